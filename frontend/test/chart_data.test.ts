// buildChartData(): a `series` answer as uPlot's columns. A hand-made answer
// of 6 batches in 2 epochs; every expected column is written out here.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LABELS, SERIES_LABELS, buildChartData } from "../src/chart_data";
import type { Boundary, EpochEndRecord, EvalPoints, SeriesResponse } from "../src/types";

const STEPS = [1, 2, 3, 4, 5, 6];
const BATCH = [0.5, 0.7, Infinity, 0.75, 0.8, 0.9];
const RUNNING = [0.5, 0.6, 0.6, 0.75, 0.775, 0.8167];

function points(step: number[], value: number[], wall: number[]): EvalPoints {
  return {
    step,
    epoch: step.map((s) => (s <= 3 ? 0 : 1)),
    epoch_fraction: step.map((s) => s / 3),
    wall_time: wall,
    value,
  };
}

function answer(): SeriesResponse {
  return {
    run: "run",
    metric: "accuracy",
    epoch_starts: [1, 4],
    range: { start: 1, end: 6 },
    total_batches: 6,
    downsampled: false,
    resolution: "exact",
    batches: {
      step: STEPS,
      epoch: [0, 0, 0, 1, 1, 1],
      epoch_fraction: STEPS.map((s) => s / 3),
      wall_time: STEPS.map((s) => 100 + s),
      batch_value: BATCH,
      running_mean: RUNNING,
    },
    // train_eval runs after the epoch's last batch: later wall time.
    train_eval: points([3, 6], [0.8, 0.95], [103.5, 106.5]),
    train_eval_training_mode: points([3, 6], [0.7, 0.85], [103.6, 106.6]),
    val: points([3, 6], [0.78, 0.9], [103.7, 106.7]),
    learning_rate: { step: [1, 4, 5], epoch_fraction: [0, 1, 4 / 3], value: [0.1, 0.05, 0.05] },
    fit_starts: { step: [1], epoch_fraction: [0] },
  };
}

const BOUNDARY = { epoch: 1, last_step: 3, first_next_step: 4 } as Boundary;

function column(chart: ReturnType<typeof buildChartData>, label: string) {
  return chart.data[1 + SERIES_LABELS.indexOf(label)];
}

test("on the step axis, evaluations share their batch's row", () => {
  const chart = buildChartData(answer(), [], [BOUNDARY], "step", 0, false, 0);
  assert.deepEqual(chart.data[0], STEPS);
  assert.deepEqual(chart.steps, STEPS);
  assert.deepEqual(chart.epochs, [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(column(chart, LABELS.batchValue), [0.5, 0.7, null, 0.75, 0.8, 0.9]);
  assert.deepEqual(column(chart, LABELS.runningMean), RUNNING);
  const none = undefined;
  assert.deepEqual(column(chart, LABELS.trainEval), [none, none, 0.8, none, none, 0.95]);
  assert.deepEqual(column(chart, LABELS.trainingMode), [none, none, 0.7, none, none, 0.85]);
  assert.deepEqual(column(chart, LABELS.val), [none, none, 0.78, none, none, 0.9]);
  assert.deepEqual(chart.nonFinite, [{ x: 3, value: Infinity, label: LABELS.batchValue }]);
  assert.deepEqual(chart.epochStartXs, [1, 4]);
  assert.deepEqual(
    chart.brackets.map((b) => [b.xFrom, b.xTo]),
    [[3, 4]],
  );
  // The rate changed at step 4 only (step 5 repeats it); one fit, no mark.
  assert.deepEqual(chart.lrMarks, [{ x: 4, step: 4, value: 0.05 }]);
  assert.deepEqual(chart.fitMarks, []);
  assert.deepEqual(chart.rates, { steps: [1, 4, 5], values: [0.1, 0.05, 0.05] });
});

test("on the relative-time axis, evaluations get rows of their own, in time order", () => {
  const chart = buildChartData(answer(), [], [BOUNDARY], "relative", 0, false, 100);
  const xs = [1, 2, 3, 3.5, 3.6, 3.7, 4, 5, 6, 6.5, 6.6, 6.7];
  assert.deepEqual(
    (chart.data[0] as number[]).map((x) => Math.round(x * 10) / 10),
    xs,
  );
  assert.deepEqual(chart.steps, [1, 2, 3, 3, 3, 3, 4, 5, 6, 6, 6, 6]);
  const trainEval = column(chart, LABELS.trainEval) as (number | undefined)[];
  assert.deepEqual(
    trainEval.map((v, i) => (v === undefined ? null : [i, v])).filter(Boolean),
    [
      [3, 0.8],
      [9, 0.95],
    ],
  );
  assert.equal(column(chart, LABELS.batchValue)[3], undefined);
  // Boundaries and marks sit on batches: the end of step 3 and of step 3 (rate from step 4).
  assert.deepEqual(
    chart.brackets.map((b) => [b.xFrom, b.xTo]),
    [[3, 4]],
  );
  assert.deepEqual(chart.lrMarks, [{ x: 3, step: 4, value: 0.05 }]);
});

test("on the epoch axis, epochs start at their ordinal", () => {
  const chart = buildChartData(answer(), [], [BOUNDARY], "epoch", 0, false, 0);
  assert.deepEqual(chart.epochStartXs, [0, 1]);
  assert.deepEqual(chart.lrMarks, [{ x: 1, step: 4, value: 0.05 }]);
});

test("a log axis leaves out values at or below 0; smoothing skips non-finite values", () => {
  const data = answer();
  data.batches.batch_value = [0.5, -0.1, Infinity, 0.75, 0.8, 0.9];
  const chart = buildChartData(data, [], [], "step", 0.5, true, 0);
  assert.deepEqual(column(chart, LABELS.batchValue), [0.5, null, null, 0.75, 0.8, 0.9]);
  // The debiased EMA with weight 0.5 is the mean of the finite values so far
  // weighted 1, 2, 4, ... from the oldest; -0.1 is smoothed, not dropped, and
  // its smoothed value (0.1) is above 0, so the log axis shows it.
  const smoothed = column(chart, LABELS.smoothed) as (number | null)[];
  const want = [
    0.5,
    (0.5 * 1 + -0.1 * 2) / 3,
    null,
    (0.5 * 1 + -0.1 * 2 + 0.75 * 4) / 7,
    (0.5 * 1 + -0.1 * 2 + 0.75 * 4 + 0.8 * 8) / 15,
    (0.5 * 1 + -0.1 * 2 + 0.75 * 4 + 0.8 * 8 + 0.9 * 16) / 31,
  ];
  smoothed.forEach((v, i) => {
    if (want[i] === null) assert.equal(v, null, `row ${i}`);
    else assert.ok(Math.abs((v as number) - (want[i] as number)) < 1e-12, `row ${i}: ${v}`);
  });
});

// The model's level at each epoch's end (its last batch) and just after each
// boundary (the next epoch's first batch), with the server's text.
const ENDS = [
  { epoch: 0, last_step: 3, level_at_end: 0.85, lag_stderr: 0.02, text: { level_at_end: "0.8500 ± 0.0200" } },
  { epoch: 1, last_step: 6, level_at_end: 0.93, lag_stderr: 0.01, text: { level_at_end: "0.9300 ± 0.0100" } },
] as EpochEndRecord[];
const AFTER = {
  ...BOUNDARY,
  epoch: 0,
  level_after: 0.8,
  level_after_stderr: 0.03,
  level_after_text: "0.8000 ± 0.0300",
} as Boundary;

test("the model's level sits at each epoch's last batch and the next epoch's first", () => {
  const chart = buildChartData(answer(), ENDS, [AFTER], "step", 0, false, 0);
  assert.deepEqual(chart.levels, [
    { side: "end", epoch: 0, step: 3, x: 3, value: 0.85, stderr: 0.02, text: "0.8500 ± 0.0200" },
    { side: "end", epoch: 1, step: 6, x: 6, value: 0.93, stderr: 0.01, text: "0.9300 ± 0.0100" },
    { side: "after", epoch: 1, step: 4, x: 4, value: 0.8, stderr: 0.03, text: "0.8000 ± 0.0300" },
  ]);
  // Its series holds the levels at their batches' rows: the legend and the y range.
  const none = undefined;
  assert.deepEqual(column(chart, LABELS.level), [none, none, 0.85, 0.8, none, 0.93]);
  // On the epoch axis: where the server places those batches.
  const byEpoch = buildChartData(answer(), ENDS, [AFTER], "epoch", 0, false, 0);
  assert.deepEqual(
    byEpoch.levels.map((m) => m.x),
    [1, 2, 4 / 3],
  );
});

test("a log axis leaves out a level at or below 0", () => {
  const ends = [{ ...ENDS[0], level_at_end: -0.1 }, ENDS[1]];
  const chart = buildChartData(answer(), ends, [AFTER], "step", 0, true, 0);
  assert.deepEqual(
    chart.levels.map((m) => m.step),
    [6, 4],
  );
  assert.equal(column(chart, LABELS.level)[2], undefined);
});
