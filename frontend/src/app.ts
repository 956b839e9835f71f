// The dashboard: layout, run selection, one card per (metric, run), live refresh.

import { ApiError, fetchCompare, fetchRuns, isLive, sourceNote } from "./api";
import { MetricCard } from "./card";
import { runColor } from "./colors";
import { ComparisonView } from "./compare_view";
import { createControls } from "./controls";
import { el, notice } from "./dom";
import { createEmptyState } from "./empty";
import { matchesFilter, RunSelector } from "./runs_view";
import { SettingsStore } from "./settings";
import { applyTheme, onSystemThemeChange, type Theme } from "./theme";
import type { CompareResponse, RunInfo, Settings } from "./types";
import { visibleName } from "./format";

const REFRESH_MS = 30_000;

export class Dashboard {
  readonly element: HTMLElement;
  private readonly store = new SettingsStore();
  private readonly runSelector: RunSelector;
  private readonly notices: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly comparison = new ComparisonView();
  private readonly empty = createEmptyState();
  private readonly nothingSelected = el("p", {
    className: "ej-hint ej-nothing",
    text: "No run selected: tick a run on the left or change the filter.",
  });
  private readonly cards = new Map<string, MetricCard>();
  private readonly deselected = new Set<string>();
  private runs: RunInfo[] = [];
  private theme: Theme;
  private timer: number | undefined;
  private comparisonToken = 0;

  constructor() {
    this.theme = applyTheme(this.store.get().theme);
    this.runSelector = new RunSelector(this.store.get().runFilter, {
      onFilter: (text) => this.store.update({ runFilter: text }),
      onToggle: (runs, selected) => {
        for (const run of runs) {
          if (selected) this.deselected.delete(run);
          else this.deselected.add(run);
        }
        this.runSelector.setRuns(this.runs, this.deselected);
        this.syncCards();
      },
    });
    this.notices = el("div", { className: "ej-notices" });
    this.grid = el("div", { className: "ej-grid" });
    this.empty.hidden = true;
    this.nothingSelected.hidden = true;
    this.element = el("div", { className: "ej-app" }, [
      el("aside", { className: "ej-sidebar" }, [createControls(this.store), this.runSelector.element]),
      el("main", { className: "ej-main" }, [
        el("header", { className: "ej-header" }, [
          el("h1", { text: "Epoch jumps" }),
          el("p", {
            className: "ej-subtitle",
            text:
              "Keras prints a running mean over each epoch, so its value lags the model and the next " +
              "epoch seems to jump. Each card splits that jump into averaging lag and real progress.",
          }),
        ]),
        this.notices,
        this.empty,
        this.nothingSelected,
        this.comparison.element,
        this.grid,
      ]),
    ]);
    this.store.subscribe((settings, changed) => this.onSettings(settings, changed));
    onSystemThemeChange(() => {
      if (this.store.get().theme === "system") this.onSettings(this.store.get(), new Set(["theme"]));
    });
  }

  async start(): Promise<void> {
    await this.refresh(false);
    if (!isLive()) return; // A report's data never changes.
    this.timer = window.setInterval(() => {
      if (!document.hidden) void this.refresh(true);
    }, REFRESH_MS);
  }

  stop(): void {
    window.clearInterval(this.timer);
  }

  /** Re-reads the run list; with `cardsToo`, every existing card refetches its data. */
  async refresh(cardsToo: boolean): Promise<void> {
    const existing = new Set(this.cards.keys());
    let response;
    try {
      response = await fetchRuns();
    } catch (error) {
      const detail = error instanceof ApiError ? `${error.status}: ${error.message}` : String(error);
      this.notices.replaceChildren(notice(`Could not list runs (${detail}).`, "error"));
      return;
    }
    if (response === null) return;
    this.runs = response.runs;
    for (const run of this.runs) runColor(run.run);
    const note = sourceNote();
    // A run without metrics gets no card to show its problems in.
    const cardless = this.runs.filter((r) => r.metrics.length === 0 && r.problems.length > 0);
    this.notices.replaceChildren(
      ...(note ? [notice(note, "info")] : []),
      ...(response.warning ? [notice(response.warning, "warning")] : []),
      ...cardless.map((r) => notice(`${visibleName(r.run)}: ${r.problems.map(visibleName).join(" ")}`, "warning")),
    );
    this.empty.hidden = this.runs.length > 0;
    this.runSelector.setRuns(this.runs, this.deselected);
    this.syncCards();
    if (cardsToo) {
      for (const [key, card] of this.cards) if (existing.has(key)) void card.refresh();
    }
  }

  private onSettings(settings: Settings, changed: Set<keyof Settings>): void {
    if (changed.has("theme")) this.theme = applyTheme(settings.theme);
    if (changed.has("runFilter")) this.syncCards();
    for (const card of this.cards.values()) card.applySettings(settings, changed, this.theme);
  }

  /** Creates, removes and orders cards for the selected runs: by metric, then run. */
  private syncCards(): void {
    const settings = this.store.get();
    const visible = this.runs.filter(
      (r) => !this.deselected.has(r.run) && matchesFilter(r.run, settings.runFilter),
    );
    const metrics: string[] = [];
    for (const run of visible) for (const m of run.metrics) if (!metrics.includes(m)) metrics.push(m);
    const wanted: [string, RunInfo, string][] = [];
    for (const metric of metrics) {
      for (const run of visible) {
        if (run.metrics.includes(metric)) wanted.push([JSON.stringify([run.run, metric]), run, metric]);
      }
    }
    const keep = new Set(wanted.map(([key]) => key));
    for (const [key, card] of this.cards) {
      if (!keep.has(key)) {
        card.destroy();
        this.cards.delete(key);
      }
    }
    wanted.forEach(([key, run, metric], i) => {
      let card = this.cards.get(key);
      if (card) {
        card.updateRun(run);
      } else {
        card = new MetricCard(run, metric, runColor(run.run), settings, this.theme);
        this.cards.set(key, card);
        void card.refresh();
      }
      const at = this.grid.children[i] ?? null;
      if (at !== card.element) this.grid.insertBefore(card.element, at);
    });
    this.nothingSelected.hidden = wanted.length > 0 || this.runs.length === 0;
    void this.refreshComparison(visible, metrics);
  }

  /** Fetches each metric's decomposition for the visible runs: the comparison
   * (two or more runs) and each card's "why is validation better" note. */
  private async refreshComparison(visible: RunInfo[], metrics: string[]): Promise<void> {
    const token = ++this.comparisonToken;
    const results = await Promise.allSettled(
      metrics.map((metric) =>
        fetchCompare(
          metric,
          visible.filter((r) => r.metrics.includes(metric)).map((r) => r.run),
        ),
      ),
    );
    if (token !== this.comparisonToken) return; // A newer comparison is on its way.
    const answers: CompareResponse[] = [];
    for (const result of results) {
      if (result.status === "rejected") {
        const error = result.reason;
        const detail = error instanceof ApiError ? `${error.status}: ${error.message}` : String(error);
        if (visible.length >= 2) this.comparison.showError(`Could not compare runs (${detail}).`);
        return;
      }
      if (result.value === null) return;
      answers.push(result.value);
    }
    this.comparison.render(visible.length >= 2 ? answers : [], runColor);
    for (const answer of answers) {
      for (const entry of answer.runs) {
        this.cards.get(JSON.stringify([entry.run, answer.metric]))?.setValidation(entry.validation);
      }
    }
  }
}
