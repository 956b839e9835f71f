// The model's estimated level at each epoch edge, drawn as a small box: a
// solid line at the level, the box's height its ± one standard error. The box
// at an epoch's end reaches back from its last batch (the running mean trails
// it); the box just after a boundary reaches forward from the next epoch's
// first batch (that batch lands on it). Values and their text are the
// server's (`jumps`: `epoch_ends`, `boundaries`).

import uPlot from "uplot";
import { withAlpha } from "./colors";
import { LEVEL_BOX_PX } from "./constants";
import type { Boundary, EpochEndRecord } from "./types";

/** Which edge of a boundary a level belongs to. */
export type LevelSide = "end" | "after";

export interface LevelMark {
  side: LevelSide;
  /** 0-based epoch whose last batch (`end`) or first batch (`after`) this is. */
  epoch: number;
  step: number;
  x: number;
  value: number;
  stderr: number;
  /** The level with its ±, as the server writes it. */
  text: string;
}

/** A box as drawn, in CSS px from the plot area's top left (for the test probe). */
export interface DrawnLevel {
  side: LevelSide;
  step: number;
  left: number;
  right: number;
  y: number;
  top: number;
  bottom: number;
}

/** Every level mark with a place on the x axis (`xOfStep` NaN: not in view). */
export function levelMarks(
  ends: EpochEndRecord[],
  boundaries: Boundary[],
  xOfStep: (step: number) => number,
): LevelMark[] {
  const marks: LevelMark[] = [
    ...ends.map((end) => ({
      side: "end" as const,
      epoch: end.epoch,
      step: end.last_step,
      x: xOfStep(end.last_step),
      value: end.level_at_end,
      stderr: end.lag_stderr,
      text: end.text.level_at_end ?? "",
    })),
    ...boundaries.map((b) => ({
      side: "after" as const,
      epoch: b.epoch + 1,
      step: b.first_next_step,
      x: xOfStep(b.first_next_step),
      value: b.level_after,
      stderr: b.level_after_stderr,
      text: b.level_after_text,
    })),
  ];
  return marks.filter((m) => Number.isFinite(m.x) && Number.isFinite(m.value));
}

/** The box's fill, also the legend swatch's. */
export function levelFill(color: string): string {
  return withAlpha(color, 0.22);
}

/** The box's x extent in CSS px of the plot area: back from an end, forward from an after. */
export function boxSpan(u: uPlot, mark: LevelMark): [number, number] {
  const x = u.valToPos(mark.x, "x");
  return mark.side === "end" ? [x - LEVEL_BOX_PX, x] : [x, x + LEVEL_BOX_PX];
}

/** Draws each mark's box (`fill`, its edges in `edge`, the level in `color`);
 * on a log scale a box reaching 0 or below is cut at the bottom. */
export function drawLevels(u: uPlot, marks: LevelMark[], color: string, logY: boolean): DrawnLevel[] {
  const fill = levelFill(color);
  const edge = withAlpha(color, 0.7);
  const ctx = u.ctx;
  const pr = uPlot.pxRatio;
  const drawn: DrawnLevel[] = [];
  const y = (value: number) => (logY && !(value > 0) ? u.bbox.height / pr : u.valToPos(value, "y"));
  for (const mark of marks) {
    if (logY && !(mark.value > 0)) continue;
    const [left, right] = boxSpan(u, mark);
    const error = Number.isFinite(mark.stderr) ? mark.stderr : 0;
    const box = { left, right, y: y(mark.value), top: y(mark.value + error), bottom: y(mark.value - error) };
    if (box.right < 0 || box.left > u.bbox.width / pr) continue;
    drawn.push({ side: mark.side, step: mark.step, ...box });
    const px = (v: number) => v * pr;
    const ox = u.bbox.left;
    const oy = u.bbox.top;
    ctx.fillStyle = fill;
    ctx.fillRect(ox + px(left), oy + px(box.top), px(right - left), px(box.bottom - box.top));
    ctx.strokeStyle = edge;
    ctx.lineWidth = pr;
    ctx.beginPath();
    for (const y of [box.top, box.bottom]) {
      ctx.moveTo(ox + px(left), oy + px(y));
      ctx.lineTo(ox + px(right), oy + px(y));
    }
    ctx.stroke();
    ctx.strokeStyle = color;
    ctx.lineWidth = 2.5 * pr;
    ctx.beginPath();
    ctx.moveTo(ox + px(left), oy + px(box.y));
    ctx.lineTo(ox + px(right), oy + px(box.y));
    ctx.stroke();
  }
  return drawn;
}
