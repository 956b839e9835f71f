// Bundles src/index.ts (with uPlot and all CSS) into ONE ES module for TensorBoard.
// Usage: node build.mjs [--watch]
import * as esbuild from "esbuild";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateContract } from "./dev/contract.mjs";

const here = dirname(fileURLToPath(import.meta.url));
generateContract();
const outfile = resolve(here, "../plugin/epochjump/static/index.js");
mkdirSync(dirname(outfile), { recursive: true });

const options = {
  entryPoints: [resolve(here, "src/index.ts")],
  outfile,
  bundle: true,
  format: "esm",
  target: "es2020",
  platform: "browser",
  minify: true,
  // CSS is imported as text and injected as a <style>, so the bundle is one file.
  loader: { ".css": "text" },
  legalComments: "eof",
  logLevel: "info",
};

if (process.argv.includes("--watch")) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
