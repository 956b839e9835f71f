// Every answer the tab reads: from TensorBoard's routes, or from a report's
// embedded data; number decoding, and a guard that drops responses superseded
// by a newer request for the same slot.

import { COMPARE_MAX_RUNS } from "./constants";
import { embeddedSource } from "./embedded";
import {
  EPOCH_END_BOOLEAN_FIELDS,
  EPOCH_END_NUMBER_FIELDS,
  JUMP_BOOLEAN_FIELDS,
  JUMP_NUMBER_FIELDS,
} from "./generated/contract";
import { ApiError, type DataSource, type Params, query, type Route, httpSource } from "./source";
import type {
  BatchPoints,
  Boundary,
  CompareBoundary,
  CompareResponse,
  CompareSummary,
  EpochEndRecord,
  EvalPoints,
  JumpsResponse,
  RunComparison,
  RunInfo,
  RunsResponse,
  SeriesResponse,
  StepRange,
  TableColumn,
  ValidationGap,
} from "./types";

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

/** `o`'s fields `keys`, each decoded by `toNumber`. */
function numberFields<K extends string>(o: Json, keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, toNumber(o[key])])) as Record<K, number>;
}

/** `o`'s fields `keys`, each true only when it is `true`. */
function booleanFields<K extends string>(o: Json, keys: readonly K[]): Record<K, boolean> {
  return Object.fromEntries(keys.map((key) => [key, o[key] === true])) as Record<K, boolean>;
}

/** `o`'s fields `keys`, each an array decoded by `toNumber`. */
function arrayFields<K extends string>(o: Json, keys: readonly K[]): Record<K, number[]> {
  return Object.fromEntries(keys.map((key) => [key, numbers(o[key])])) as Record<K, number[]>;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

/** A `{key: text}` object's string values; {} for anything else. */
function texts(value: unknown): Record<string, string> {
  return Object.fromEntries(
    Object.entries(asObject(value)).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
  );
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
  return arrayFields(asObject(raw), [
    "step",
    "epoch",
    "epoch_fraction",
    "wall_time",
    "batch_value",
    "running_mean",
  ]);
}

function parseEvals(raw: unknown): EvalPoints {
  return arrayFields(asObject(raw), ["step", "epoch", "epoch_fraction", "wall_time", "value"]);
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
    train_eval_training_mode: parseEvals(o.train_eval_training_mode),
    val: parseEvals(o.val),
    learning_rate: arrayFields(asObject(o.learning_rate), ["step", "epoch_fraction", "value"]),
    fit_starts: arrayFields(asObject(o.fit_starts), ["step", "epoch_fraction"]),
  };
}

function parseBoundary(raw: unknown): Boundary {
  const o = asObject(raw);
  return {
    ...numberFields(o, JUMP_NUMBER_FIELDS),
    ...booleanFields(o, JUMP_BOOLEAN_FIELDS),
    text: texts(o.text),
    level_after_text: String(o.level_after_text ?? ""),
    detail: String(o.detail ?? ""),
  };
}

function parseColumn(raw: unknown): TableColumn {
  const o = asObject(raw);
  return { key: String(o.key ?? ""), label: String(o.label ?? ""), help: String(o.help ?? ""), more: o.more === true };
}

function parseEpochEnd(raw: unknown): EpochEndRecord {
  const o = asObject(raw);
  return {
    ...numberFields(o, EPOCH_END_NUMBER_FIELDS),
    ...booleanFields(o, EPOCH_END_BOOLEAN_FIELDS),
    text: texts(o.text),
  };
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
  return latest("runs", async () => {
    const o = asObject(await getJson("runs"));
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
  const params: Params = { run, metric };
  if (range) {
    params.start = Math.round(range.start);
    params.end = Math.round(range.end);
  }
  return latest(slotFor("series", run, metric), async () =>
    parseSeries(await getJson("series", params)),
  );
}

export async function fetchJumps(run: string, metric: string): Promise<JumpsResponse | null> {
  return latest(slotFor("jumps", run, metric), async () => {
    const o = asObject(await getJson("jumps", { run, metric }));
    return {
      run: String(o.run ?? run),
      metric: String(o.metric ?? metric),
      estimator: String(o.estimator ?? ""),
      answer: strings(o.answer),
      columns: Array.isArray(o.columns) ? o.columns.map(parseColumn) : [],
      boundaries: Array.isArray(o.boundaries) ? o.boundaries.map(parseBoundary) : [],
      epoch_ends: Array.isArray(o.epoch_ends) ? o.epoch_ends.map(parseEpochEnd) : [],
    };
  });
}

/** Where to download a series; null in a report, which has no server. */
export function downloadUrl(run: string, metric: string, format: "csv" | "json"): string | null {
  return isLive() ? `./download?${query({ run, metric, format })}` : null;
}

function parseSummary(raw: unknown): CompareSummary {
  const o = asObject(raw);
  return {
    ...numberFields(o, [
      "boundaries",
      "mean_jump",
      "mean_lag",
      "mean_progress",
      "mean_mode_gap",
      "lag_share",
    ]),
    lag_share_text: String(o.lag_share_text ?? "—"),
  };
}

function parseCompareBoundary(raw: unknown): CompareBoundary {
  const o = asObject(raw);
  return {
    ...numberFields(o, ["epoch", "jump", "lag", "lag_stderr", "progress", "lag_share", "mode_gap"]),
    lag_share_text: String(o.lag_share_text ?? "—"),
  };
}

function parseValidationGap(raw: unknown): ValidationGap {
  const o = asObject(raw);
  const parts = asObject(o.parts_text);
  return {
    ...numberFields(o, [
      "epoch",
      "last_step",
      "reported",
      "level_at_end",
      "train_eval",
      "val",
      "val_gap",
      "lag",
      "mode_gap",
      "generalisation_gap",
      "train_eval_training_mode",
      "subset_gap",
      "lag_share",
      "subset_share",
      "mode_share",
      "generalisation_share",
      "lag_stderr",
    ]),
    val_better: o.val_better === true,
    parts_text: {
      lag: String(parts.lag ?? ""),
      subset_gap: String(parts.subset_gap ?? ""),
      mode_gap: String(parts.mode_gap ?? ""),
      generalisation_gap: String(parts.generalisation_gap ?? ""),
    },
    sentence: String(o.sentence ?? ""),
  };
}

function parseRunComparison(raw: unknown): RunComparison {
  const o = asObject(raw);
  return {
    run: String(o.run ?? ""),
    summary: parseSummary(o.summary),
    boundaries: Array.isArray(o.boundaries) ? o.boundaries.map(parseCompareBoundary) : [],
    validation: Array.isArray(o.validation) ? o.validation.map(parseValidationGap) : [],
  };
}


/** Every run's jump decomposition of one metric, asked in batches of 20 runs. */
export async function fetchCompare(metric: string, runs: string[]): Promise<CompareResponse | null> {
  return latest(JSON.stringify(["compare", metric]), async () => {
    const batches: string[][] = [];
    for (let i = 0; i < runs.length; i += COMPARE_MAX_RUNS) batches.push(runs.slice(i, i + COMPARE_MAX_RUNS));
    const answers = await Promise.all(batches.map((batch) => getJson("compare", { metric, run: batch })));
    const first = asObject(answers[0]);
    return {
      metric,
      higher_is_better: first.higher_is_better !== false,
      estimator: String(first.estimator ?? ""),
      runs: answers.flatMap((answer) => {
        const entries = asObject(answer).runs;
        return Array.isArray(entries) ? entries.map(parseRunComparison) : [];
      }),
    };
  });
}
