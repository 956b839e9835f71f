// smooth(): TensorBoard's debiased exponential moving average, checked
// against its definition as a weighted mean (weights w^age over the finite
// values so far).
import assert from "node:assert/strict";
import { test } from "node:test";
import { smooth } from "../src/ema";

function weightedMean(values: number[], weight: number): (number | null)[] {
  const finite: number[] = [];
  return values.map((v) => {
    if (!Number.isFinite(v)) return null;
    finite.push(v);
    let sum = 0;
    let total = 0;
    finite.forEach((x, i) => {
      const w = Math.pow(weight, finite.length - 1 - i);
      sum += w * x;
      total += w;
    });
    return sum / total;
  });
}

test("weight 0 keeps the values, non-finite ones as gaps", () => {
  assert.deepEqual(smooth([1, NaN, 3, Infinity], 0), [1, null, 3, null]);
});

test("is the weighted mean of the finite values so far", () => {
  const values = [0.5, 0.9, NaN, 0.2, 0.7, -Infinity, 0.4];
  for (const weight of [0.3, 0.6, 0.95]) {
    const got = smooth(values, weight);
    const want = weightedMean(values, weight);
    got.forEach((g, i) => {
      if (want[i] === null) assert.equal(g, null);
      else assert.ok(Math.abs((g as number) - (want[i] as number)) < 1e-12, `${weight} ${i}`);
    });
  }
});

test("the first value is its own average (no bias towards 0)", () => {
  assert.equal(smooth([0.8], 0.99)[0], 0.8);
});
