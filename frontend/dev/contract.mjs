// Runs dev/contract_ts.py, which writes src/generated/contract.ts from the
// Python records (build, typecheck and the unit tests run it first).
// Python is $PYTHON (setup.py passes its own) or python3; the script loads
// this checkout's plugin/ by path, never an installed epochjump.
// Usage: node dev/contract.mjs, or import { generateContract }.
import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

export function generateContract() {
  const python = process.env.PYTHON || "python3";
  const run = spawnSync(python, [resolve(here, "contract_ts.py")], { stdio: "inherit" });
  if (run.error || run.status !== 0) {
    throw new Error(`${python} dev/contract_ts.py failed: ${run.error ?? `exit status ${run.status}`}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) generateContract();
