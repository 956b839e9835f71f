// Per-run colours, stable for a run once given (by order of first appearance).

const PALETTE = [
  "#ff7043", // TensorBoard orange
  "#0077bb",
  "#009988",
  "#9467bd",
  "#e6ab02",
  "#33bbee",
  "#8c564b",
  "#bcbd22",
  "#7f7f7f",
  "#2ca02c",
];

const assigned = new Map<string, string>();

export function runColor(run: string): string {
  let color = assigned.get(run);
  if (color === undefined) {
    color = PALETTE[assigned.size % PALETTE.length];
    assigned.set(run, color);
  }
  return color;
}

/** `#rrggbb` with an alpha, as an rgba() string. */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
