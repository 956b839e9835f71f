// TensorBoard-style smoothing: a debiased exponential moving average.

/**
 * Smooths `values` with weight `weight` in [0, 1). Non-finite values stay out
 * of the average and come back as null (a gap), like TensorBoard does.
 */
export function smooth(values: readonly number[], weight: number): (number | null)[] {
  if (weight <= 0) return values.map((v) => (Number.isFinite(v) ? v : null));
  let last = 0;
  let count = 0;
  return values.map((v) => {
    if (!Number.isFinite(v)) return null;
    last = last * weight + (1 - weight) * v;
    count += 1;
    return last / (1 - Math.pow(weight, count));
  });
}
