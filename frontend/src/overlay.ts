// Canvas drawing on top of the series: epoch-start lines, the model's level
// at each epoch edge, jump brackets and markers for non-finite values. Called from uPlot's `draw` hook.

import uPlot from "uplot";
import { type ChartData, LABELS, SERIES_LABELS, type StepMark } from "./chart_data";
import { BAND_MIN_MARKS, MARK_GAP_PX } from "./constants";
import { formatRate } from "./format";
import { type DrawnLevel, drawLevels } from "./levels";
import type { ChartColors } from "./theme";

export interface OverlayState {
  chart: ChartData;
  colors: ChartColors;
  highlightedEpoch: number | null;
  logY: boolean;
}

const FONT = "Roboto, 'Helvetica Neue', Arial, sans-serif";

function inRange(u: uPlot, x: number): boolean {
  const { min, max } = u.scales.x;
  return Number.isFinite(x) && min !== undefined && max !== undefined && x >= min && x <= max;
}

/** A stretch of learning-rate changes too close to tell apart (a per-step
 * schedule), drawn as one band: from the first change to the last, in scale
 * units, with the rate after the first and after the last. */
export interface RateBand {
  from: number;
  to: number;
  first: number;
  last: number;
  changes: number;
}

/** What one draw put on the canvas, in scale units (for the test probe). */
export interface Drawn {
  epochLines: number[];
  lrMarks: number[];
  lrBands: RateBand[];
  fitMarks: number[];
  levels: DrawnLevel[];
}

/** The model level's series, whose legend toggle shows or hides its boxes. */
const LEVEL_SERIES = SERIES_LABELS.indexOf(LABELS.level) + 1;


/** Draws everything; returns the x values (scale units) of the lines and marks drawn. */
export function drawOverlay(u: uPlot, state: OverlayState): Drawn {
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  const epochLines = drawEpochLines(u, state);
  const { ticks, bands } = groupRateMarks(u, state.chart.lrMarks);
  const lrMarks = drawMarks(u, ticks, state.colors.lrMark, "bottom", (m) => `lr ${formatRate(m.value)}`);
  drawRateBands(u, bands, state.colors.lrMark);
  const fitMarks = drawMarks(u, state.chart.fitMarks, state.colors.fitMark, "top", () => "fit");
  const levels = u.series[LEVEL_SERIES]?.show
    ? drawLevels(u, state.chart.levels, state.colors.level, state.logY)
    : [];
  drawBrackets(u, state);
  drawNonFinite(u, state);
  ctx.restore();
  return { epochLines, lrMarks, lrBands: bands, fitMarks, levels };
}

/** Splits the learning-rate changes in view into ones drawn as ticks and
 * runs of at least `BAND_MIN_MARKS` changes, each less than `MARK_GAP_PX`
 * px from the next, drawn as bands: a per-step schedule would otherwise
 * paint a solid block of ticks over the data. */
function groupRateMarks(u: uPlot, marks: StepMark[]): { ticks: StepMark[]; bands: RateBand[] } {
  const visible = marks.filter((mark) => inRange(u, mark.x));
  const ticks: StepMark[] = [];
  const bands: RateBand[] = [];
  let run: StepMark[] = [];
  const close = () => {
    if (run.length >= BAND_MIN_MARKS) {
      const first = run[0];
      const last = run[run.length - 1];
      bands.push({ from: first.x, to: last.x, first: first.value, last: last.value, changes: run.length });
    } else {
      ticks.push(...run);
    }
    run = [];
  };
  for (const mark of visible) {
    const previous = run[run.length - 1];
    if (previous && u.valToPos(mark.x, "x") - u.valToPos(previous.x, "x") >= MARK_GAP_PX) close();
    run.push(mark);
  }
  close();
  return { ticks, bands };
}

/** A low bar along the bottom for each band, labelled with the rate at its
 * two ends. */
function drawRateBands(u: uPlot, bands: RateBand[], color: string): void {
  const ctx = u.ctx;
  const pr = uPlot.pxRatio;
  const bottom = u.bbox.top + u.bbox.height;
  const thickness = 4 * pr;
  ctx.font = `500 ${10.5 * pr}px ${FONT}`;
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  for (const band of bands) {
    const x0 = u.valToPos(band.from, "x", true);
    const x1 = Math.max(u.valToPos(band.to, "x", true), x0 + 2 * pr);
    ctx.fillStyle = color;
    ctx.fillRect(x0, bottom - thickness, x1 - x0, thickness);
    const text = `lr ${formatRate(band.first)} → ${formatRate(band.last)}`;
    ctx.fillText(text, x0 + 4 * pr, bottom - thickness - 3 * pr);
  }
}

/** Short solid ticks with a label, from the bottom (learning-rate changes) or
 * below the epoch labels at the top (fit starts): distinct from the dashed
 * full-height epoch lines. */
function drawMarks(
  u: uPlot,
  marks: StepMark[],
  color: string,
  side: "top" | "bottom",
  label: (mark: StepMark) => string,
): number[] {
  const ctx = u.ctx;
  const pr = uPlot.pxRatio;
  const { top, height } = u.bbox;
  const length = 22 * pr;
  const drawn: number[] = [];
  let lastLabelEnd = -Infinity;
  ctx.font = `500 ${10.5 * pr}px ${FONT}`;
  ctx.textAlign = "left";
  for (const mark of marks) {
    if (!inRange(u, mark.x)) continue;
    drawn.push(mark.x);
    const px = Math.round(u.valToPos(mark.x, "x", true)) + 0.5;
    const y0 = side === "bottom" ? top + height : top + 16 * pr;
    const y1 = side === "bottom" ? y0 - length : y0 + length;
    ctx.strokeStyle = color;
    ctx.lineWidth = 2.5 * pr;
    ctx.beginPath();
    ctx.moveTo(px, y0);
    ctx.lineTo(px, y1);
    ctx.stroke();
    const text = label(mark);
    if (px + 4 * pr > lastLabelEnd) {
      ctx.fillStyle = color;
      ctx.textBaseline = side === "bottom" ? "bottom" : "top";
      ctx.fillText(text, px + 4 * pr, side === "bottom" ? y0 - 3 * pr : y0 + 2 * pr);
      lastLabelEnd = px + 4 * pr + ctx.measureText(text).width + 6 * pr;
    }
  }
  return drawn;
}

function drawEpochLines(u: uPlot, state: OverlayState): number[] {
  const ctx = u.ctx;
  const pr = uPlot.pxRatio;
  const { top, height } = u.bbox;
  const drawn: number[] = [];
  let lastLabelEnd = -Infinity;
  ctx.font = `${11 * pr}px ${FONT}`;
  ctx.textBaseline = "top";
  ctx.textAlign = "left";
  state.chart.epochStartXs.forEach((x, epoch) => {
    if (!inRange(u, x)) return;
    drawn.push(x);
    const px = Math.round(u.valToPos(x, "x", true)) + 0.5;
    ctx.strokeStyle = state.colors.epochLine;
    ctx.lineWidth = pr;
    ctx.setLineDash([4 * pr, 3 * pr]);
    ctx.beginPath();
    ctx.moveTo(px, top);
    ctx.lineTo(px, top + height);
    ctx.stroke();
    ctx.setLineDash([]);
    const label = `epoch ${epoch + 1}`;
    const labelWidth = ctx.measureText(label).width;
    if (px + 4 * pr > lastLabelEnd) {
      ctx.fillStyle = state.colors.muted;
      ctx.fillText(label, px + 4 * pr, top + 3 * pr);
      lastLabelEnd = px + 4 * pr + labelWidth + 8 * pr;
    }
  });
  return drawn;
}

function drawBrackets(u: uPlot, state: OverlayState): void {
  const ctx = u.ctx;
  const pr = uPlot.pxRatio;
  const usable = (v: number) => Number.isFinite(v) && (!state.logY || v > 0);
  const brackets = state.chart.brackets.filter(
    (b) =>
      usable(b.boundary.reported) &&
      usable(b.boundary.first_next) &&
      (inRange(u, b.xFrom) || inRange(u, b.xTo)),
  );
  const spacing =
    brackets.length > 1
      ? Math.min(
          ...brackets.slice(1).map((b, i) => u.valToPos(b.xFrom, "x") - u.valToPos(brackets[i].xFrom, "x")),
        )
      : Infinity;
  for (const { boundary, xFrom, xTo } of brackets) {
    const highlighted = boundary.epoch === state.highlightedEpoch;
    const x1 = u.valToPos(xFrom, "x", true);
    const x2 = u.valToPos(xTo, "x", true);
    const y1 = u.valToPos(boundary.reported, "y", true);
    const y2 = u.valToPos(boundary.first_next, "y", true);
    const arm = 9 * pr;
    const xm = (x1 + x2) / 2;
    const wide = x2 - x1 > 2 * arm;
    const color = highlighted || state.highlightedEpoch === null ? state.colors.bracket : state.colors.bracketSoft;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = (highlighted ? 3 : 2) * pr;
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(wide ? x1 : xm - arm, y1);
    ctx.lineTo(xm, y1);
    ctx.lineTo(xm, y2);
    ctx.lineTo(wide ? x2 : xm + arm, y2);
    ctx.stroke();
    // Arrowhead at the next epoch's first value, pointing along the jump.
    const dir = y2 >= y1 ? 1 : -1;
    const head = 6 * pr;
    if (Math.abs(y2 - y1) > head * 1.5) {
      ctx.beginPath();
      ctx.moveTo(xm, y2);
      ctx.lineTo(xm - head * 0.7, y2 - dir * head);
      ctx.lineTo(xm + head * 0.7, y2 - dir * head);
      ctx.closePath();
      ctx.fill();
    }
    // The reported value: what Keras printed for the epoch.
    ctx.beginPath();
    ctx.arc(xm, y1, 3 * pr, 0, 2 * Math.PI);
    ctx.fill();
    // Beside what Keras printed, on the side away from the jump: the model
    // level's boxes and the next epoch's batches lie toward the jump's end.
    if (highlighted || spacing > 80) {
      drawLabel(u, boundary.text.jump ?? "", xm + arm + 3 * pr, y1 - dir * 8 * pr, color, state.colors.background);
    }
  }
}

function drawLabel(u: uPlot, text: string, x: number, y: number, color: string, background: string): void {
  const ctx = u.ctx;
  const pr = uPlot.pxRatio;
  ctx.font = `500 ${11 * pr}px ${FONT}`;
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";
  const w = ctx.measureText(text).width + 6 * pr;
  const h = 15 * pr;
  const right = u.bbox.left + u.bbox.width;
  const left = x + w > right ? x - w - 24 * pr : x;
  ctx.globalAlpha = 0.85;
  ctx.fillStyle = background;
  ctx.fillRect(left, y - h / 2, w, h);
  ctx.globalAlpha = 1;
  ctx.fillStyle = color;
  ctx.fillText(text, left + 3 * pr, y);
}

function drawNonFinite(u: uPlot, state: OverlayState): void {
  const ctx = u.ctx;
  const pr = uPlot.pxRatio;
  const { top, height } = u.bbox;
  const r = 5 * pr;
  ctx.fillStyle = state.colors.nonFinite;
  for (const point of state.chart.nonFinite) {
    if (!inRange(u, point.x)) continue;
    const px = u.valToPos(point.x, "x", true);
    // -Infinity points down at the bottom edge; NaN and +Infinity up at the top.
    const atBottom = point.value === -Infinity;
    const tip = atBottom ? top + height - 1 : top + 1;
    const base = atBottom ? tip - 1.6 * r : tip + 1.6 * r;
    ctx.beginPath();
    ctx.moveTo(px, tip);
    ctx.lineTo(px - r, base);
    ctx.lineTo(px + r, base);
    ctx.closePath();
    ctx.fill();
  }
}
