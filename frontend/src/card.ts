// One card: a metric of one run, with its chart, jump table and sentence.

import { ApiError, downloadUrl, fetchJumps, fetchSeries, isLive } from "./api";
import { buildChartData, type ChartData } from "./chart_data";
import { JumpChart, type XRange } from "./chart";
import { el, notice } from "./dom";
import { JumpTable } from "./table";
import { registerProbe, unregisterProbe } from "./testhooks";
import type { Theme } from "./theme";
import type { Boundary, EpochEndRecord, RunInfo, SeriesResponse, Settings, StepRange, ValidationGap } from "./types";
import { ValidationNote } from "./val_note";
import { visibleName } from "./format";

const LEGEND =
  "Bold: what Keras printed (running mean of the epoch so far) · thin: each batch alone " +
  "(smoothed; faint: raw) · ◆ train_eval: training subset in inference mode · ◇ the same in training mode · ○ val · " +
  "green box: the model's level ± one standard error at each epoch's end and just after it (the running mean trails it; " +
  "the next epoch's first batch lands on it) · dashed: epoch start · arrow: the jump · teal tick (lr): learning-rate change (a teal bar: changes at every few steps) · " +
  "indigo tick: a new fit() · " +
  "red ▲: NaN or infinite.";

function stepRangeFor(chart: ChartData, range: XRange): StepRange | null {
  const xs = chart.data[0];
  if (xs.length === 0) return null;
  let lo = 0;
  while (lo + 1 < xs.length && xs[lo + 1] <= range.min) lo++;
  let hi = xs.length - 1;
  while (hi - 1 >= 0 && xs[hi - 1] >= range.max) hi--;
  const a = chart.steps[lo];
  const b = chart.steps[Math.max(hi, lo)];
  return { start: Math.min(a, b), end: Math.max(a, b) };
}

export class MetricCard {
  readonly element: HTMLElement;
  private readonly chartRoot: HTMLElement;
  private readonly chips: HTMLElement;
  private readonly notices: HTMLElement;
  private readonly sentence: HTMLElement;
  private readonly headline: HTMLElement;
  private readonly table: JumpTable;
  private readonly validationNote = new ValidationNote();
  private chart: JumpChart;
  private chartData: ChartData | null = null;
  private series: SeriesResponse | null = null;
  private boundaries: Boundary[] = [];
  private ends: EpochEndRecord[] = [];
  private zoom: XRange | null = null;
  private zoomSteps: StepRange | null = null;
  private t0 = NaN;
  private selected: number | null = null;
  private hovered: number | null = null;
  private loadError: string | null = null;
  private readonly key: string;

  constructor(
    private run: RunInfo,
    readonly metric: string,
    private readonly color: string,
    private settings: Settings,
    private theme: Theme,
  ) {
    this.key = JSON.stringify([run.run, metric]);
    const resetButton = el("button", {
      className: "ej-button",
      text: "Reset zoom",
      testid: "reset-zoom",
      title: "Show the whole run (or double-click the chart)",
      attrs: { type: "button" },
    });
    resetButton.addEventListener("click", () => this.resetZoom());
    // A report has no server to download from: no links there.
    const links = (["csv", "json"] as const).flatMap((format) => {
      const href = downloadUrl(run.run, metric, format);
      if (href === null) return [];
      return [
        el("a", {
          className: "ej-link",
          text: format.toUpperCase(),
          testid: `download-${format}`,
          title: `Download every batch of ${visibleName(run.run)} / ${visibleName(metric)} as ${format.toUpperCase()}`,
          attrs: { href, download: "" },
        }),
      ];
    });
    this.headline = el("div", { className: "ej-headline", testid: "headline" });
    const detailsButton = el("button", {
      className: "ej-button ej-details-toggle",
      text: "More columns",
      testid: "table-details",
      title: "Show the rest of the split: the model's step, the first batch's noise, train_eval, mode gap, learning rate",
      attrs: { type: "button", "aria-pressed": "false" },
    });
    detailsButton.addEventListener("click", () => {
      const show = detailsButton.getAttribute("aria-pressed") !== "true";
      detailsButton.setAttribute("aria-pressed", String(show));
      detailsButton.textContent = show ? "Fewer columns" : "More columns";
      this.table.showDetails(show);
    });
    this.chips = el("div", { className: "ej-chips" });
    this.notices = el("div", { className: "ej-card-notices" });
    this.chartRoot = el("div", { className: "ej-chart", testid: "chart" });
    this.sentence = el("p", { className: "ej-sentence", testid: "sentence", attrs: { "aria-live": "polite" } });
    this.table = new JumpTable({
      // A click picks a row (or, on the picked row, unpicks it); its words
      // show under the table. Hovering only points at the boundary on the chart.
      onSelect: (epoch) => {
        this.selected = this.selected === epoch ? null : epoch;
        this.table.setSelected(this.selected);
        this.showSentence();
      },
      onHover: (epoch) => {
        this.hovered = epoch;
        this.followFocus();
      },
    });
    this.element = el(
      "section",
      {
        className: "ej-card",
        testid: "metric-card",
        attrs: { "data-run": run.run, "data-metric": metric },
      },
      [
        el("header", { className: "ej-card-header" }, [
          el("h3", { className: "ej-card-title", text: visibleName(metric) }),
          el("span", { className: "ej-run-chip", title: visibleName(run.run) }, [
            el("span", { className: "ej-swatch", attrs: { style: `background:${color}` } }),
            el("span", { className: "ej-run-name", text: visibleName(run.run) }),
          ]),
          el("span", { className: "ej-spacer" }),
          ...links,
          resetButton,
        ]),
        this.headline,
        this.chips,
        this.notices,
        this.chartRoot,
        el("p", { className: "ej-legend-line", testid: "legend-line", text: LEGEND }),
        el("div", { className: "ej-table-tools" }, [detailsButton]),
        el("div", { className: "ej-table-wrap", testid: "jump-table-wrap" }, [this.table.element]),
        this.sentence,
        this.validationNote.element,
      ],
    );
    this.chart = this.createChart();
    registerProbe(this.key, () => ({ run: this.run.run, metric: this.metric, ...this.chart.probe() }));
    this.renderInfo();
  }

  /** Fetches series (in the zoomed step range, if any) and jumps, then redraws. */
  async refresh(): Promise<void> {
    const zoomSteps = this.zoomSteps;
    const [series, jumps] = await Promise.allSettled([
      fetchSeries(this.run.run, this.metric, zoomSteps),
      fetchJumps(this.run.run, this.metric),
    ]);
    this.loadError = null;
    if (series.status === "fulfilled" && series.value) {
      if (zoomSteps === this.zoomSteps) {
        this.series = series.value;
        if (!zoomSteps || Number.isNaN(this.t0)) this.t0 = series.value.batches.wall_time[0] ?? 0;
      }
    } else if (series.status === "rejected") {
      this.loadError = describe(series.reason);
    }
    if (jumps.status === "fulfilled" && jumps.value) {
      this.boundaries = jumps.value.boundaries;
      this.ends = jumps.value.epoch_ends;
      // The words name the metric: shown with its hidden characters escaped.
      this.headline.replaceChildren(
        ...jumps.value.answer.map((line) => el("p", { className: "ej-answer-line", testid: "answer-line", text: visibleName(line) })),
      );
      if (!this.boundaries.some((b) => b.epoch === this.selected)) this.selected = null;
      this.table.render(jumps.value.columns, this.ends, this.boundaries, this.selected);
      this.showSentence();
    } else if (jumps.status === "rejected") {
      this.loadError = describe(jumps.reason);
    }
    this.renderInfo();
    this.redraw();
  }

  /** Shows why validation beats training, for the epochs where it does. */
  setValidation(records: ValidationGap[]): void {
    this.validationNote.render(records);
    this.table.markValidation(this.validationNote.epochs());
    this.validationNote.follow(this.hovered ?? this.selected);
  }

  updateRun(run: RunInfo): void {
    this.run = run;
    this.renderInfo();
  }

  applySettings(settings: Settings, changed: Set<keyof Settings>, theme: Theme): void {
    const old = this.settings;
    this.settings = settings;
    this.theme = theme;
    if (changed.has("xAxis") && old.xAxis !== settings.xAxis) {
      // Zoom ranges are in x units, so a new axis starts from the whole run.
      const wasZoomed = this.zoomSteps !== null;
      this.zoom = null;
      this.zoomSteps = null;
      this.rebuildChart();
      if (wasZoomed) void this.refresh();
    } else if (changed.has("logY") || changed.has("theme")) {
      this.rebuildChart();
    } else if (changed.has("smoothing")) {
      this.redraw();
    }
  }

  destroy(): void {
    unregisterProbe(this.key);
    this.chart.destroy();
    this.element.remove();
  }

  private createChart(): JumpChart {
    return new JumpChart(this.chartRoot, {
      color: this.color,
      theme: this.theme,
      axis: this.settings.xAxis,
      logY: this.settings.logY,
      onZoom: (range) => this.zoomTo(range),
      onReset: () => this.resetZoom(),
    });
  }

  private rebuildChart(): void {
    this.chart.destroy();
    this.chart = this.createChart();
    this.redraw();
  }

  private redraw(): void {
    if (!this.series) return;
    this.chartData = buildChartData(
      this.series,
      this.ends,
      this.boundaries,
      this.settings.xAxis,
      this.settings.smoothing,
      this.settings.logY,
      this.t0,
    );
    this.chart.setData(this.chartData, this.zoom);
    this.chart.highlight(this.hovered ?? this.selected);
  }

  private zoomTo(range: XRange): void {
    if (!this.chartData || !(range.max > range.min)) return;
    this.zoom = range;
    this.zoomSteps = stepRangeFor(this.chartData, range);
    this.chart.setXRange(range);
    void this.refresh();
  }

  private resetZoom(): void {
    this.zoom = null;
    this.zoomSteps = null;
    void this.refresh();
  }

  /** The selected row's words; a hint when no row is selected. */
  private showSentence(): void {
    const boundary = this.boundaries.find((b) => b.epoch === this.selected);
    this.sentence.replaceChildren();
    this.sentence.classList.toggle("ej-hint", !boundary);
    if (boundary) {
      this.sentence.append(
        el("strong", { text: `Epoch ${boundary.epoch + 1} → ${boundary.epoch + 2}: ` }),
        boundary.detail,
      );
    } else {
      this.sentence.textContent =
        this.boundaries.length === 0
          ? "No epoch boundary recorded yet: the jump columns fill in after the second epoch starts."
          : "Click a row for what happened at that boundary, in words.";
    }
    this.followFocus();
  }

  /** The chart's highlighted bracket and the validation note follow the
   * hovered row, else the selected one. */
  private followFocus(): void {
    const epoch = this.hovered ?? this.selected;
    this.chart.highlight(epoch);
    this.validationNote.follow(epoch);
  }

  private renderInfo(): void {
    const chips: HTMLElement[] = [];
    const resolution = this.series?.resolution ?? this.run.resolution;
    if (resolution !== "batch") {
      chips.push(el("span", { className: "ej-chip", testid: "resolution", text: `resolution: ${resolution}` }));
    }
    if (this.series?.downsampled) {
      chips.push(
        el("span", {
          className: "ej-chip",
          testid: "downsampled",
          text: isLive()
            ? `downsampled from ${this.series.total_batches} batches: zoom in for every batch`
            : `downsampled from ${this.series.total_batches} batches for this report`,
        }),
      );
    }
    if (this.zoomSteps) {
      chips.push(
        el("span", { className: "ej-chip ej-chip-accent", text: `zoomed: steps ${this.zoomSteps.start}–${this.zoomSteps.end}` }),
      );
    }
    this.chips.replaceChildren(...chips);
    this.notices.replaceChildren(
      ...this.run.problems.map((p) => notice(visibleName(p), "warning")),
      ...(this.loadError ? [notice(this.loadError, "error")] : []),
    );
  }
}

function describe(error: unknown): string {
  if (error instanceof ApiError) return `Could not load data (${error.status}): ${error.message}`;
  return `Could not load data: ${error instanceof Error ? error.message : String(error)}`;
}
