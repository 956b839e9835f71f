// All HTTP access to the epochjump routes: relative URLs, number decoding and
// a guard that drops responses superseded by a newer request for the same slot.

import type {
  BatchPoints,
  Boundary,
  EvalPoints,
  JumpsResponse,
  RunInfo,
  RunsResponse,
  SeriesResponse,
  StepRange,
} from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Turns a JSON number or http_util's "NaN"/"Infinity"/"-Infinity" into a number. */
export function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return NaN;
}

function numbers(value: unknown): number[] {
  return Array.isArray(value) ? value.map(toNumber) : [];
}

type Json = Record<string, unknown>;

function asObject(value: unknown): Json {
  return value !== null && typeof value === "object" ? (value as Json) : {};
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function parseRun(raw: unknown): RunInfo {
  const o = asObject(raw);
  return {
    run: String(o.run ?? ""),
    metrics: strings(o.metrics),
    epochs: toNumber(o.epochs),
    batches: toNumber(o.batches),
    has_train_eval: Boolean(o.has_train_eval),
    has_val: Boolean(o.has_val),
    resolution: String(o.resolution ?? "batch"),
    problems: strings(o.problems),
  };
}

function parseBatches(raw: unknown): BatchPoints {
  const o = asObject(raw);
  return {
    step: numbers(o.step),
    epoch: numbers(o.epoch),
    epoch_fraction: numbers(o.epoch_fraction),
    wall_time: numbers(o.wall_time),
    batch_value: numbers(o.batch_value),
    running_mean: numbers(o.running_mean),
  };
}

function parseEvals(raw: unknown): EvalPoints {
  const o = asObject(raw);
  return {
    step: numbers(o.step),
    epoch: numbers(o.epoch),
    epoch_fraction: numbers(o.epoch_fraction),
    wall_time: numbers(o.wall_time),
    value: numbers(o.value),
  };
}

function parseSeries(raw: unknown): SeriesResponse {
  const o = asObject(raw);
  const range = asObject(o.range);
  return {
    run: String(o.run ?? ""),
    metric: String(o.metric ?? ""),
    epoch_starts: numbers(o.epoch_starts),
    range: { start: toNumber(range.start), end: toNumber(range.end) },
    total_batches: toNumber(o.total_batches),
    downsampled: Boolean(o.downsampled),
    resolution: String(o.resolution ?? "batch"),
    batches: parseBatches(o.batches),
    train_eval: parseEvals(o.train_eval),
    val: parseEvals(o.val),
  };
}

function parseBoundary(raw: unknown): Boundary {
  const o = asObject(raw);
  const n = (key: string) => toNumber(o[key]);
  return {
    epoch: n("epoch"),
    last_step: n("last_step"),
    first_next_step: n("first_next_step"),
    reported: n("reported"),
    level_at_end: n("level_at_end"),
    first_next: n("first_next"),
    jump: n("jump"),
    lag: n("lag"),
    progress: n("progress"),
    train_eval: n("train_eval"),
    mode_gap: n("mode_gap"),
    val: n("val"),
    lag_share: n("lag_share"),
    sentence: String(o.sentence ?? ""),
  };
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    const text = await response.text().catch(() => "");
    throw new ApiError(response.status, text || `${response.status} ${response.statusText}`);
  }
  return response.json();
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

function query(params: Record<string, string | number>): string {
  return Object.entries(params)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
    .join("&");
}

function slotFor(route: string, run: string, metric: string): string {
  return JSON.stringify([route, run, metric]);
}

export async function fetchRuns(): Promise<RunsResponse | null> {
  return latest("runs", async () => {
    const o = asObject(await getJson("./runs"));
    return {
      runs: Array.isArray(o.runs) ? o.runs.map(parseRun) : [],
      warning: typeof o.warning === "string" && o.warning ? o.warning : null,
    };
  });
}

/** Fetches one metric's series; `range` null means the whole run. */
export async function fetchSeries(
  run: string,
  metric: string,
  range: StepRange | null,
): Promise<SeriesResponse | null> {
  const params: Record<string, string | number> = { run, metric };
  if (range) {
    params.start = Math.round(range.start);
    params.end = Math.round(range.end);
  }
  return latest(slotFor("series", run, metric), async () =>
    parseSeries(await getJson(`./series?${query(params)}`)),
  );
}

export async function fetchJumps(run: string, metric: string): Promise<JumpsResponse | null> {
  return latest(slotFor("jumps", run, metric), async () => {
    const o = asObject(await getJson(`./jumps?${query({ run, metric })}`));
    return {
      run: String(o.run ?? run),
      metric: String(o.metric ?? metric),
      estimator: String(o.estimator ?? ""),
      boundaries: Array.isArray(o.boundaries) ? o.boundaries.map(parseBoundary) : [],
    };
  });
}

export function downloadUrl(run: string, metric: string, format: "csv" | "json"): string {
  return `./download?${query({ run, metric, format })}`;
}
