// A read-only `window.__epochjump` snapshot for browser tests. Not a user API.

import type { DrawnLevel } from "./levels";
import type { RateBand } from "./overlay";

export interface ChartProbe {
  run: string;
  metric: string;
  xAxis: string;
  logY: boolean;
  labels: string[];
  /** Non-null, non-undefined points per series label. */
  nonNull: Record<string, number>;
  /** x positions (scale units) of the epoch lines in the last draw. */
  epochLines: number[];
  /** x positions of the learning-rate changes drawn as ticks, and every change's new rate. */
  lrMarks: number[];
  lrValues: number[];
  /** Runs of learning-rate changes drawn as bands (a per-step schedule). */
  lrBands: RateBand[];
  /** x positions of the fit-start marks drawn. */
  fitMarks: number[];
  xMin: number | null;
  xMax: number | null;
  yMin: number | null;
  yMax: number | null;
  /** The model-level boxes of the last draw, in CSS px of the plot area. */
  levels: DrawnLevel[];
  nonFinite: number;
  brackets: number;
}

const probes = new Map<string, () => ChartProbe | null>();

export function registerProbe(key: string, probe: () => ChartProbe | null): void {
  probes.set(key, probe);
}

export function unregisterProbe(key: string): void {
  probes.delete(key);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

let installed = false;

export function installTestHooks(): void {
  if (installed) return;
  installed = true;
  Object.defineProperty(window, "__epochjump", {
    configurable: false,
    enumerable: false,
    get: () =>
      deepFreeze({
        charts: [...probes.values()]
          .map((probe) => probe())
          .filter((p): p is ChartProbe => p !== null),
      }),
  });
}
