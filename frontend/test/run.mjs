// Runs the frontend's unit tests (test/*.test.ts) with node's own test runner,
// without a browser: esbuild compiles each test, with the src/ modules it
// imports, into a temporary directory (node 20 runs no TypeScript itself).
// Usage: node test/run.mjs (or `npm test`).
import * as esbuild from "esbuild";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateContract } from "../dev/contract.mjs";

generateContract();
const here = dirname(fileURLToPath(import.meta.url));
const tests = readdirSync(here).filter((name) => name.endsWith(".test.ts"));
const outdir = mkdtempSync(join(tmpdir(), "epochjump-frontend-tests-"));
try {
  await esbuild.build({
    entryPoints: tests.map((name) => resolve(here, name)),
    outdir,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outExtension: { ".js": ".mjs" },
    loader: { ".css": "text" },
    logLevel: "warning",
  });
  const compiled = tests.map((name) => join(outdir, name.replace(/\.ts$/, ".mjs")));
  const args = ["--test", "--test-reporter=spec", ...compiled];
  const run = spawnSync(process.execPath, args, { stdio: "inherit" });
  process.exitCode = run.status ?? 1;
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
