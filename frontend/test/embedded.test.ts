// sliceSeries(): a report's zoom cuts its embedded `series` answer as the
// server cuts one for a step range. A hand-made answer of 9 batches in 3
// epochs; every expected column is written out here.
import assert from "node:assert/strict";
import { test } from "node:test";
import { sliceSeries } from "../src/embedded";

function evals(value: number[]) {
  return { step: [3, 6, 9], epoch: [0, 1, 2], epoch_fraction: [1, 2, 3], wall_time: [30, 60, 90], value };
}

function answer() {
  const steps = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  return {
    run: "run",
    metric: "accuracy",
    epoch_starts: [1, 4, 7],
    range: { start: 1, end: 9 },
    total_batches: 9,
    downsampled: false,
    batches: {
      step: steps,
      epoch: [0, 0, 0, 1, 1, 1, 2, 2, 2],
      epoch_fraction: [0, 1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2, 7 / 3, 8 / 3],
      wall_time: steps.map((s) => 10 * s),
      batch_value: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
      running_mean: [0.1, 0.15, 0.2, 0.4, 0.45, 0.5, 0.7, 0.75, 0.8],
    },
    train_eval: evals([0.31, 0.61, 0.91]),
    train_eval_training_mode: evals([0.29, 0.59, 0.89]),
    val: evals([0.3, 0.6, "NaN"]),
    learning_rate: { step: [1, 5], epoch_fraction: [0, 4 / 3], value: [0.1, 0.05] },
    fit_starts: { step: [1], epoch_fraction: [0] },
  };
}

test("a zoom keeps the batches and every evaluation in the step range, both ends included", () => {
  const sliced = sliceSeries(answer(), { run: "run", metric: "accuracy", start: 4, end: 6 });
  assert.deepEqual(sliced.range, { start: 4, end: 6 });
  assert.equal(sliced.total_batches, 3);
  assert.deepEqual(sliced.batches, {
    step: [4, 5, 6],
    epoch: [1, 1, 1],
    epoch_fraction: [1, 4 / 3, 5 / 3],
    wall_time: [40, 50, 60],
    batch_value: [0.4, 0.5, 0.6],
    running_mean: [0.4, 0.45, 0.5],
  });
  const atSix = (value: number) => ({ step: [6], epoch: [1], epoch_fraction: [2], wall_time: [60], value: [value] });
  assert.deepEqual(sliced.train_eval, atSix(0.61));
  // The training-mode evaluations too (a report once showed them all when zoomed).
  assert.deepEqual(sliced.train_eval_training_mode, atSix(0.59));
  assert.deepEqual(sliced.val, atSix(0.6));
});

test("a zoom keeps the marks whole and a downsampled answer's total", () => {
  const whole = answer();
  const sliced = sliceSeries({ ...whole, downsampled: true }, { start: 7, end: 9 });
  assert.deepEqual(sliced.learning_rate, whole.learning_rate);
  assert.deepEqual(sliced.fit_starts, whole.fit_starts);
  assert.equal(sliced.total_batches, 9);
  assert.deepEqual(sliced.val, { step: [9], epoch: [2], epoch_fraction: [3], wall_time: [90], value: ["NaN"] });
});

test("without a range the answer is the embedded one", () => {
  const whole = answer();
  assert.equal(sliceSeries(whole, { run: "run", metric: "accuracy" }), whole);
});
