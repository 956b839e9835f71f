// Answers the routes from the data a report embeds (`epochjump export -o
// report.html`): the answers the server gave at export time, looked up
// instead of fetched. A zoom cuts the embedded series to the step range, as
// the server's range does (constants.json: `range_filtered_series`).

import { DATA_ELEMENT_ID, RANGE_FILTERED_SERIES, REPORT_FORMAT } from "./constants";
import { asObject, type Json } from "./decode";
import { ApiError, type DataSource, type Params, type Route } from "./source";

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function keyOf(run: unknown, metric: unknown): string {
  return JSON.stringify([String(run), String(metric)]);
}

function single(params: Params, name: string): string {
  const value = params[name];
  return Array.isArray(value) ? String(value[0] ?? "") : String(value ?? "");
}

/** True when the page is a report (its data element exists). */
export function isReport(): boolean {
  return document.getElementById(DATA_ELEMENT_ID) !== null;
}

/** The report's data source, or null when the page is not a report. */
export function embeddedSource(): DataSource | null {
  const element = document.getElementById(DATA_ELEMENT_ID);
  if (!element) return null;
  let report: Json;
  try {
    report = asObject(JSON.parse(element.textContent ?? ""));
  } catch (error) {
    return failingSource(`The report's embedded data is not valid JSON (${String(error)}).`);
  }
  const format = Number(report.format);
  if (!(format >= 1 && format <= REPORT_FORMAT)) {
    return failingSource(
      `This report's data has format ${String(report.format)}; this page reads up to ${REPORT_FORMAT}.`,
    );
  }
  return new EmbeddedSource(report);
}

function failingSource(message: string): DataSource {
  return {
    live: false,
    note: null,
    get: () => Promise.reject(new ApiError(500, message)),
  };
}

class EmbeddedSource implements DataSource {
  readonly live = false;
  readonly note: string;
  private readonly runs: unknown;
  private readonly series = new Map<string, Json>();
  private readonly jumps = new Map<string, Json>();
  private readonly compare = new Map<string, Json>();

  constructor(report: Json) {
    this.runs = report.runs;
    for (const answer of list(report.series).map(asObject)) this.series.set(keyOf(answer.run, answer.metric), answer);
    for (const answer of list(report.jumps).map(asObject)) this.jumps.set(keyOf(answer.run, answer.metric), answer);
    for (const answer of list(report.compare).map(asObject)) this.compare.set(String(answer.metric), answer);
    this.note =
      `A report exported by epochjump from "${String(report.source ?? "")}" on ${String(report.created ?? "")}: ` +
      "the numbers are those of that moment; it needs no server and no network.";
  }

  async get(route: Route, params: Params): Promise<unknown> {
    switch (route) {
      case "runs":
        return this.runs;
      case "series":
        return sliceSeries(this.find(this.series, params), params);
      case "jumps":
        return this.find(this.jumps, params);
      case "compare":
        return this.compared(params);
    }
  }

  private find(answers: Map<string, Json>, params: Params): Json {
    const run = single(params, "run");
    const metric = single(params, "metric");
    const answer = answers.get(keyOf(run, metric));
    if (!answer) throw new ApiError(404, `This report holds no metric "${metric}" of run "${run}".`);
    return answer;
  }

  /** The metric's comparison, with the entries of the runs asked for, in that order. */
  private compared(params: Params): Json {
    const metric = single(params, "metric");
    const answer = this.compare.get(metric);
    const wanted = ([] as (string | number)[]).concat(params.run ?? []).map(String);
    const entries = new Map(list(answer?.runs).map((entry) => [String(asObject(entry).run), entry]));
    const missing = wanted.find((run) => !entries.has(run));
    if (!answer || missing !== undefined) {
      throw new ApiError(404, `This report holds no metric "${metric}" of run "${missing ?? wanted[0] ?? ""}".`);
    }
    return { ...answer, runs: wanted.map((run) => entries.get(run)) };
  }
}

/** The embedded `series` answer restricted to the steps `start`..`end`, if
 * asked: each part of `RANGE_FILTERED_SERIES` keeps its points with
 * start <= step <= end, as the server's answer for that range does. */
export function sliceSeries(answer: Json, params: Params): Json {
  if (params.start === undefined || params.end === undefined) return answer;
  const start = Number(params.start);
  const end = Number(params.end);
  const inRange = (step: unknown) => typeof step === "number" && step >= start && step <= end;
  const pick = (points: unknown): Json => {
    const columns = asObject(points);
    const keep = list(columns.step).map((step, i) => (inRange(step) ? i : -1)).filter((i) => i >= 0);
    return Object.fromEntries(Object.entries(columns).map(([name, values]) => [name, keep.map((i) => list(values)[i])]));
  };
  const cut = Object.fromEntries(RANGE_FILTERED_SERIES.map((name) => [name, pick(answer[name])]));
  return {
    ...answer,
    ...cut,
    range: { start, end },
    total_batches: answer.downsampled ? answer.total_batches : list(cut.batches.step).length,
  };
}
