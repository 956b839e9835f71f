// Every answer the tab reads: from TensorBoard's routes, or from a report's
// embedded data, read by the decoders generated from the Python answers
// (generated/contract.ts); and a guard that drops responses superseded
// by a newer request for the same slot.

import { COMPARE_MAX_RUNS } from "./constants";
import { embeddedSource } from "./embedded";
import {
  decodeCompareResponse,
  decodeJumpsResponse,
  decodeRunsResponse,
  decodeSeriesResponse,
} from "./generated/contract";
import { ApiError, type DataSource, type Params, query, type Route, httpSource } from "./source";
import type { CompareResponse, JumpsResponse, RunsResponse, SeriesResponse, StepRange } from "./types";

export { ApiError };

let source: DataSource | null = null;

/** A report's embedded data when the page is one, else TensorBoard's routes. */
function dataSource(): DataSource {
  source ??= embeddedSource() ?? httpSource;
  return source;
}

function getJson(route: Route, params: Params = {}): Promise<unknown> {
  return dataSource().get(route, params);
}

/** False in a report: no live refresh, no downloads. */
export function isLive(): boolean {
  return dataSource().live;
}

/** What to say above the cards about where the data comes from, or null. */
export function sourceNote(): string | null {
  return dataSource().note;
}

const latestToken = new Map<string, number>();
let tokenCounter = 0;

/** Runs `load`, resolving to null (or swallowing its error) if a newer call
 * for the same `slot` started meanwhile. */
async function latest<T>(slot: string, load: () => Promise<T>): Promise<T | null> {
  const token = ++tokenCounter;
  latestToken.set(slot, token);
  const isCurrent = () => latestToken.get(slot) === token;
  try {
    const value = await load();
    return isCurrent() ? value : null;
  } catch (error) {
    if (isCurrent()) throw error;
    return null;
  }
}

function slotFor(route: string, run: string, metric: string): string {
  return JSON.stringify([route, run, metric]);
}

export async function fetchRuns(): Promise<RunsResponse | null> {
  return latest("runs", async () => decodeRunsResponse(await getJson("runs")));
}

/** Fetches one metric's series; `range` null means the whole run. */
export async function fetchSeries(
  run: string,
  metric: string,
  range: StepRange | null,
): Promise<SeriesResponse | null> {
  const params: Params = { run, metric };
  if (range) {
    params.start = Math.round(range.start);
    params.end = Math.round(range.end);
  }
  return latest(slotFor("series", run, metric), async () =>
    decodeSeriesResponse(await getJson("series", params)),
  );
}

export async function fetchJumps(run: string, metric: string): Promise<JumpsResponse | null> {
  return latest(slotFor("jumps", run, metric), async () =>
    decodeJumpsResponse(await getJson("jumps", { run, metric })),
  );
}

/** Where to download a series; null in a report, which has no server. */
export function downloadUrl(run: string, metric: string, format: "csv" | "json"): string | null {
  return isLive() ? `./download?${query({ run, metric, format })}` : null;
}

/** Every run's jump decomposition of one metric, asked in batches of 20 runs. */
export async function fetchCompare(metric: string, runs: string[]): Promise<CompareResponse | null> {
  return latest(JSON.stringify(["compare", metric]), async () => {
    const batches: string[][] = [];
    for (let i = 0; i < runs.length; i += COMPARE_MAX_RUNS) batches.push(runs.slice(i, i + COMPARE_MAX_RUNS));
    const answers = await Promise.all(
      batches.map(async (batch) => decodeCompareResponse(await getJson("compare", { metric, run: batch }))),
    );
    const first = answers[0] ?? decodeCompareResponse({});
    return { ...first, metric, runs: answers.flatMap((answer) => answer.runs) };
  });
}
