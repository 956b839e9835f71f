// One uPlot chart of a metric: options, series styles, zoom gestures, resize.

import uPlot from "uplot";
import { LABELS, SERIES_LABELS, type ChartData } from "./chart_data";
import { withAlpha } from "./colors";
import { formatDateTime, formatDuration, formatDurationTicks, formatValue, kerasValue } from "./format";
import { levelFill } from "./levels";
import { diamonds, rings } from "./markers";
import { drawOverlay, type Drawn } from "./overlay";
import type { ChartProbe } from "./testhooks";
import { chartColors, type Theme } from "./theme";
import { tooltipPlugin } from "./tooltip";
import type { XAxis } from "./types";

export interface XRange {
  min: number;
  max: number;
}

export interface ChartOptions {
  color: string;
  theme: Theme;
  axis: XAxis;
  logY: boolean;
  onZoom(range: XRange): void;
  onReset(): void;
}

const HEIGHT = 300;
const FONT = "11px Roboto, 'Helvetica Neue', Arial, sans-serif";
const LABEL_FONT = "500 11px Roboto, 'Helvetica Neue', Arial, sans-serif";

const X_LABELS: Record<XAxis, string> = {
  step: "step",
  epoch: "epochs completed",
  relative: "time since the first batch",
  wall: "wall time",
};

function formatX(axis: XAxis, x: number | null): string {
  if (x === null || x === undefined) return "—";
  if (axis === "relative") return formatDuration(x);
  if (axis === "wall") return formatDateTime(x);
  if (axis === "epoch") return x.toFixed(3);
  return String(Math.round(x));
}

export class JumpChart {
  private readonly plot: uPlot;
  private readonly observer: ResizeObserver;
  private chart: ChartData | null = null;
  private highlighted: number | null = null;
  private drawn: Drawn = { epochLines: [], lrMarks: [], lrBands: [], fitMarks: [], levels: [] };

  constructor(
    private readonly root: HTMLElement,
    private readonly options: ChartOptions,
  ) {
    this.plot = new uPlot(this.plotOptions(), [[], ...SERIES_LABELS.map(() => [])], root);
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(root);
  }

  /** Shows new data; with `range`, keeps that x range (zoom) instead of fitting. */
  setData(chart: ChartData, range: XRange | null): void {
    this.chart = chart;
    if (range) {
      this.plot.setData(chart.data, false);
      this.plot.setScale("x", range);
    } else {
      this.plot.setData(chart.data, true);
    }
  }

  setXRange(range: XRange): void {
    this.plot.setScale("x", range);
  }

  highlight(epoch: number | null): void {
    if (epoch === this.highlighted) return;
    this.highlighted = epoch;
    this.plot.redraw(false, false);
  }

  probe(): Omit<ChartProbe, "run" | "metric"> {
    const nonNull: Record<string, number> = {};
    SERIES_LABELS.forEach((label, i) => {
      const column = this.plot.data[i + 1] ?? [];
      let count = 0;
      for (const v of column) if (v !== null && v !== undefined) count++;
      nonNull[label] = count;
    });
    const { min, max } = this.plot.scales.x;
    const y = this.plot.scales.y;
    return {
      xAxis: this.options.axis,
      logY: this.options.logY,
      labels: [...SERIES_LABELS],
      nonNull,
      epochLines: [...this.drawn.epochLines],
      lrMarks: [...this.drawn.lrMarks],
      lrBands: this.drawn.lrBands.map((band) => ({ ...band })),
      lrValues: this.chart?.lrMarks.map((m) => m.value) ?? [],
      fitMarks: [...this.drawn.fitMarks],
      xMin: min ?? null,
      xMax: max ?? null,
      yMin: y.min ?? null,
      yMax: y.max ?? null,
      levels: this.drawn.levels.map((level) => ({ ...level })),
      nonFinite: this.chart?.nonFinite.length ?? 0,
      brackets: this.chart?.brackets.length ?? 0,
    };
  }

  destroy(): void {
    this.observer.disconnect();
    this.plot.destroy();
  }

  private resize(): void {
    const width = Math.floor(this.root.clientWidth);
    if (width > 0 && width !== this.plot.width) this.plot.setSize({ width, height: HEIGHT });
  }

  private plotOptions(): uPlot.Options {
    const { color, theme, axis, logY } = this.options;
    const colors = chartColors(theme);
    const axisStyle = {
      stroke: colors.muted,
      font: FONT,
      labelFont: LABEL_FONT,
      grid: { stroke: colors.grid, width: 1 },
      ticks: { stroke: colors.grid, width: 1, size: 4 },
    };
    const line = (stroke: string, width: number): uPlot.Series => ({
      stroke,
      width,
      points: { show: false },
      value: (_u, v) => kerasValue(v),
    });
    const evaluation = (stroke: string, fill: string, width: number, paths: uPlot.Series.PathBuilder): uPlot.Series => ({
      stroke,
      fill,
      width,
      paths,
      points: { show: false },
      value: (_u, v) => kerasValue(v),
    });
    const styles: Record<string, uPlot.Series> = {
      [LABELS.batchValue]: line(withAlpha(color, theme === "dark" ? 0.35 : 0.25), 1),
      [LABELS.smoothed]: line(withAlpha(color, theme === "dark" ? 0.85 : 0.7), 1.25),
      [LABELS.runningMean]: line(color, 2.5),
      [LABELS.trainEval]: evaluation(colors.trainEval, colors.trainEval, 1, diamonds(5)),
      // Hollow: the same subset as train_eval, in training mode.
      [LABELS.trainingMode]: evaluation(colors.trainEval, colors.background, 1.5, diamonds(4.5)),
      [LABELS.val]: evaluation(colors.val, colors.background, 2, rings(4)),
      // Drawn by the overlay (levels.ts); here for the legend, toggle and y range.
      [LABELS.level]: { stroke: colors.level, fill: levelFill(colors.level), width: 2, paths: () => null, points: { show: false } },
    };
    const swatches = SERIES_LABELS.map((label) => {
      if (label === LABELS.trainEval || label === LABELS.trainingMode) return colors.trainEval;
      if (label === LABELS.val) return colors.val;
      if (label === LABELS.level) return colors.level;
      return label === LABELS.runningMean ? color : withAlpha(color, 0.6);
    });
    return {
      width: Math.max(200, Math.floor(this.root.clientWidth) || 600),
      height: HEIGHT,
      pxAlign: false,
      scales: {
        x: {
          time: axis === "wall",
          // On the epoch axis the first batch sits at 1/epoch_length; start at the
          // whole epoch so its boundary line (x = e) is in view.
          ...(axis === "epoch"
            ? { range: (_u: uPlot, min: number, max: number): uPlot.Range.MinMax => [Math.floor(min), max] }
            : {}),
        },
        y: { distr: logY ? 3 : 1 },
      },
      axes: [
        {
          ...axisStyle,
          label: X_LABELS[axis],
          labelSize: 16,
          size: 30,
          ...(axis === "relative"
            ? {
                values: (_u: uPlot, splits: number[], _i: number, _space: number, incr: number) =>
                  formatDurationTicks(splits, incr),
              }
            : {}),
        },
        {
          ...axisStyle,
          size: 56,
          // Log scales pass null for ticks they leave unlabelled.
          values: (_u: uPlot, splits: (number | null)[]) =>
            splits.map((v) => (v === null || v === undefined ? "" : formatValue(v))),
        },
      ],
      series: [
        { label: X_LABELS[axis], value: (_u, v) => formatX(axis, v) },
        ...SERIES_LABELS.map((label) => ({ ...styles[label], label })),
      ],
      cursor: {
        drag: { x: true, y: false, setScale: false },
        points: { size: 7 },
        bind: {
          dblclick: () => () => {
            this.options.onReset();
            return null;
          },
        },
      },
      // Values live in the tooltip; the legend stays a clean row of series toggles.
      legend: { live: false },
      hooks: {
        setSelect: [
          (u) => {
            const { left, width } = u.select;
            if (width < 4) return;
            const min = u.posToVal(left, "x");
            const max = u.posToVal(left + width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.options.onZoom({ min, max });
          },
        ],
        draw: [
          (u) => {
            if (!this.chart) return;
            this.drawn = drawOverlay(u, {
              chart: this.chart,
              colors,
              highlightedEpoch: this.highlighted,
              logY,
            });
          },
        ],
      },
      plugins: [
        tooltipPlugin({
          chart: () => this.chart,
          axis: () => axis,
          swatches: () => swatches,
        }),
      ],
    };
  }
}
