// Turns a `series` answer into uPlot's columnar data for the chosen x axis.
// Only coordinates change here; every value is the server's (smoothing aside).

import type uPlot from "uplot";
import { smooth } from "./ema";
import { type LevelMark, levelMarks } from "./levels";
import type { Boundary, EpochEndRecord, SeriesResponse, XAxis } from "./types";

export const LABELS = {
  runningMean: "running mean",
  batchValue: "batch value",
  smoothed: "batch value (smoothed)",
  trainEval: "train_eval",
  trainingMode: "train_eval (training mode)",
  val: "val",
  level: "model level ± stderr",
} as const;

/** Series order in the chart, after x. */
// uPlot draws series in order, so the bold running mean comes after the thin
// batch lines to stay on top. The model level's boxes are drawn by the
// overlay; its series puts it in the legend and in the y range.
export const SERIES_LABELS: string[] = [
  LABELS.batchValue,
  LABELS.smoothed,
  LABELS.runningMean,
  LABELS.trainEval,
  LABELS.trainingMode,
  LABELS.val,
  LABELS.level,
];

export interface NonFinitePoint {
  x: number;
  value: number;
  label: string;
}

export interface BracketPosition {
  boundary: Boundary;
  xFrom: number;
  xTo: number;
}

/** A learning-rate change or a fit start to mark, at x (NaN: not placeable). */
export interface StepMark {
  x: number;
  step: number;
  /** The learning rate from this step on; NaN for a fit start. */
  value: number;
}

export interface ChartData {
  data: uPlot.AlignedData;
  /** Global step and 0-based epoch of each row. */
  steps: number[];
  epochs: number[];
  /** x of each epoch's start (index = epoch ordinal); NaN when unknown. */
  epochStartXs: number[];
  brackets: BracketPosition[];
  /** The model's level at each epoch's end and just after each boundary, in view. */
  levels: LevelMark[];
  /** Learning-rate changes (not the first rate, nor a repeat of the one before). */
  lrMarks: StepMark[];
  /** Fit starts after the first (the first is where the data begins). */
  fitMarks: StepMark[];
  /** Every recorded learning rate, for the tooltip: in force from `steps[i]` on. */
  rates: { steps: number[]; values: number[] };
  nonFinite: NonFinitePoint[];
  /** Raw (unsmoothed, non-finite kept) values per row, for the tooltip. */
  raw: Map<string, (number | undefined)[]>;
}

interface Row {
  x: number;
  step: number;
  epoch: number;
  batch: number; // index into batches, or -1 for an evaluation-only row
  trainEval?: number;
  trainingMode?: number;
  val?: number;
}

function xOf(axis: XAxis, step: number, fraction: number, wall: number, t0: number): number {
  switch (axis) {
    case "step":
      return step;
    case "epoch":
      return fraction;
    case "relative":
      return wall - t0;
    case "wall":
      return wall;
  }
}

export function buildChartData(
  series: SeriesResponse,
  ends: EpochEndRecord[],
  boundaries: Boundary[],
  axis: XAxis,
  smoothing: number,
  logY: boolean,
  t0: number,
): ChartData {
  const b = series.batches;
  const rows: Row[] = b.step.map((step, i) => ({
    x: xOf(axis, step, b.epoch_fraction[i], b.wall_time[i], t0),
    step,
    epoch: b.epoch[i],
    batch: i,
  }));
  // Built before evaluation rows are added, so row index == batch index here.
  const batchOfStep = new Map<number, number>();
  rows.forEach((row, i) => batchOfStep.set(row.step, i));

  let extraRows = false;
  const evaluations = {
    trainEval: series.train_eval,
    trainingMode: series.train_eval_training_mode,
    val: series.val,
  } as const;
  for (const kind of ["trainEval", "trainingMode", "val"] as const) {
    const points = evaluations[kind];
    points.step.forEach((step, i) => {
      const x = xOf(axis, step, points.epoch_fraction[i], points.wall_time[i], t0);
      const at = batchOfStep.get(step);
      if (at !== undefined && rows[at].x === x) {
        rows[at][kind] = points.value[i];
      } else {
        rows.push({ x, step, epoch: points.epoch[i], batch: -1, [kind]: points.value[i] });
        extraRows = true;
      }
    });
  }
  if (extraRows) rows.sort((p, q) => p.x - q.x || p.step - q.step);

  const smoothed = smooth(b.batch_value, smoothing);
  const nonFinite: NonFinitePoint[] = [];
  const plotted = (value: number | undefined, x: number, label: string) => {
    if (value === undefined) return undefined;
    if (!Number.isFinite(value)) {
      nonFinite.push({ x, value, label });
      return null;
    }
    return logY && value <= 0 ? null : value;
  };
  const column = (pick: (row: Row) => number | undefined, label: string) =>
    rows.map((row) => plotted(pick(row), row.x, label));
  const batchOnly = (values: number[]) => (row: Row) =>
    row.batch >= 0 ? values[row.batch] : undefined;

  const raw = new Map<string, (number | undefined)[]>([
    [LABELS.runningMean, rows.map(batchOnly(b.running_mean))],
    [LABELS.batchValue, rows.map(batchOnly(b.batch_value))],
    [LABELS.trainEval, rows.map((row) => row.trainEval)],
    [LABELS.trainingMode, rows.map((row) => row.trainingMode)],
    [LABELS.val, rows.map((row) => row.val)],
  ]);
  const columns = new Map<string, (number | null | undefined)[]>([
    [LABELS.batchValue, column(batchOnly(b.batch_value), LABELS.batchValue)],
    [
      LABELS.smoothed,
      rows.map((row) => {
        if (row.batch < 0) return undefined;
        const v = smoothed[row.batch];
        return v !== null && logY && v <= 0 ? null : v;
      }),
    ],
    [LABELS.runningMean, column(batchOnly(b.running_mean), LABELS.runningMean)],
    [LABELS.trainEval, column((row) => row.trainEval, LABELS.trainEval)],
    [LABELS.trainingMode, column((row) => row.trainingMode, LABELS.trainingMode)],
    [LABELS.val, column((row) => row.val, LABELS.val)],
  ]);
  const xOfStep = (step: number): number => {
    if (axis === "step") return step;
    const at = batchOfStep.get(step);
    return at === undefined ? NaN : xOf(axis, step, b.epoch_fraction[at], b.wall_time[at], t0);
  };
  const levels = levelMarks(ends, boundaries, xOfStep).filter((m) => !logY || m.value > 0);
  const levelOfStep = new Map(levels.map((m) => [m.step, m.value]));
  columns.set(
    LABELS.level,
    rows.map((row) => (row.batch >= 0 ? levelOfStep.get(row.step) : undefined)),
  );
  const data: uPlot.AlignedData = [
    rows.map((row) => row.x),
    ...SERIES_LABELS.map((label) => columns.get(label) ?? []),
  ];
  const epochStartXs = series.epoch_starts.map((step, e) =>
    axis === "epoch" ? e : xOfStep(step),
  );
  const brackets = boundaries
    .map((boundary) => ({
      boundary,
      xFrom: xOfStep(boundary.last_step),
      xTo: xOfStep(boundary.first_next_step),
    }))
    .filter((p) => Number.isFinite(p.xFrom) && Number.isFinite(p.xTo));

  // A mark sits where its batch begins: at the end of the batch before it
  // (on the epoch axis, the server's epoch_fraction; on the step axis, the step).
  const markX = (step: number, fraction: number): number => {
    if (axis === "step") return step;
    if (axis === "epoch") return fraction;
    const before = xOfStep(step - 1);
    return Number.isFinite(before) ? before : xOfStep(step);
  };
  const rates = series.learning_rate;
  const lrMarks = rates.step
    .map((step, i) => ({ x: markX(step, rates.epoch_fraction[i]), step, value: rates.value[i] }))
    .filter((mark, i) => i > 0 && mark.value !== rates.value[i - 1]);
  const fits = series.fit_starts;
  const fitMarks = fits.step
    .map((step, i) => ({ x: markX(step, fits.epoch_fraction[i]), step, value: NaN }))
    .slice(1);

  return {
    data,
    steps: rows.map((row) => row.step),
    epochs: rows.map((row) => row.epoch),
    epochStartXs,
    brackets,
    levels,
    lrMarks,
    fitMarks,
    rates: { steps: rates.step, values: rates.value },
    nonFinite,
    raw,
  };
}
