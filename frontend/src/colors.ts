// Per-run colours, stable for a run once given (by order of first appearance).
import { RUN_COLORS } from "./constants";

const assigned = new Map<string, string>();

export function runColor(run: string): string {
  let color = assigned.get(run);
  if (color === undefined) {
    color = RUN_COLORS[assigned.size % RUN_COLORS.length];
    assigned.set(run, color);
  }
  return color;
}

/** `#rrggbb` with an alpha, as an rgba() string. */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}
