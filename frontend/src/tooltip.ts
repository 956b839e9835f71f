// A uPlot plugin: a tooltip that lists every series' value at the hovered row.

import type uPlot from "uplot";
import { LABELS, SERIES_LABELS, type ChartData } from "./chart_data";
import { formatDateTime, formatDuration, formatRate, kerasValue } from "./format";
import { boxSpan, type LevelMark } from "./levels";
import type { XAxis } from "./types";

export interface TooltipSource {
  chart(): ChartData | null;
  axis(): XAxis;
  swatches(): string[];
}

function xText(axis: XAxis, x: number): string | null {
  if (axis === "relative") return formatDuration(x);
  if (axis === "wall") return formatDateTime(x);
  if (axis === "epoch") return `${x.toFixed(3)} epochs`;
  return null;
}

/** The level marks whose box spans the cursor's x (CSS px of the plot area). */
function levelsAt(u: uPlot, chart: ChartData, left: number): LevelMark[] {
  return chart.levels.filter((mark) => {
    const [from, to] = boxSpan(u, mark);
    return left >= from - 1 && left <= to + 1;
  });
}

function levelName(mark: LevelMark): string {
  return mark.side === "end"
    ? `${LABELS.level}, end of epoch ${mark.epoch + 1}`
    : `${LABELS.level}, start of epoch ${mark.epoch + 1}`;
}

/** The learning rate in force at `step`, or null when none is recorded. */
function rateAt(chart: ChartData, step: number): number | null {
  const { steps, values } = chart.rates;
  let found: number | null = null;
  for (let i = 0; i < steps.length && steps[i] <= step; i++) found = values[i];
  return found;
}

/** One line of the tooltip: a swatch (if any), a name and its value. */
function row(color: string | null, name: string, value: string, testid?: string): HTMLElement {
  const line = document.createElement("div");
  line.className = "ej-tooltip-row";
  if (testid) line.dataset.testid = testid;
  if (color !== null) {
    const swatch = document.createElement("span");
    swatch.className = "ej-swatch";
    swatch.style.background = color;
    line.append(swatch);
  }
  const label = document.createElement("span");
  label.textContent = name;
  const number = document.createElement("span");
  number.className = "ej-num";
  number.textContent = value;
  line.append(label, number);
  return line;
}

export function tooltipPlugin(source: TooltipSource): uPlot.Plugin {
  const box = document.createElement("div");
  box.className = "ej-tooltip";
  box.dataset.testid = "tooltip";
  box.hidden = true;

  const update = (u: uPlot) => {
    const idx = u.cursor.idx;
    const chart = source.chart();
    const left = u.cursor.left ?? -1;
    if (idx === null || idx === undefined || !chart || left < 0) {
      box.hidden = true;
      return;
    }
    box.replaceChildren();
    const header = document.createElement("div");
    header.className = "ej-tooltip-header";
    const x = u.data[0][idx];
    const extra = xText(source.axis(), x);
    header.textContent =
      `step ${chart.steps[idx]} · epoch ${chart.epochs[idx] + 1}` + (extra ? ` · ${extra}` : "");
    box.append(header);
    const swatches = source.swatches();
    SERIES_LABELS.forEach((label, i) => {
      if (!u.series[i + 1].show) return;
      const value =
        label === LABELS.smoothed ? u.data[i + 1][idx] : chart.raw.get(label)?.[idx];
      if (value === undefined || value === null) return;
      box.append(row(swatches[i], label, kerasValue(value)));
    });
    const levelIndex = SERIES_LABELS.indexOf(LABELS.level);
    if (u.series[levelIndex + 1].show) {
      for (const mark of levelsAt(u, chart, left)) {
        box.append(row(swatches[levelIndex], levelName(mark), mark.text, "tooltip-level"));
      }
    }
    const rate = rateAt(chart, chart.steps[idx]);
    if (rate !== null) {
      const change = chart.lrMarks.find((m) => m.step === chart.steps[idx]);
      const line = row(null, change ? "learning rate (changed here)" : "learning rate", formatRate(rate), "tooltip-rate");
      line.classList.add("ej-tooltip-rate");
      box.append(line);
    }
    box.hidden = false;
    const overWidth = u.over.clientWidth;
    const width = box.offsetWidth;
    const top = u.cursor.top ?? 0;
    box.style.left = `${left + 14 + width > overWidth ? Math.max(0, left - width - 14) : left + 14}px`;
    box.style.top = `${Math.max(0, Math.min(top + 10, u.over.clientHeight - box.offsetHeight))}px`;
  };

  return {
    hooks: {
      init: (u: uPlot) => {
        u.over.append(box);
        u.over.addEventListener("mouseleave", () => (box.hidden = true));
      },
      setCursor: update,
    },
  };
}
