// Runs side by side: per metric, each run's jump decomposition, in a summary
// per run and a table per boundary, with a bar whose length is the jump and
// whose filled part is the share of it that is averaging lag. Shown when two
// or more selected runs share a metric. Every number is the server's.

import { withAlpha } from "./colors";
import { el, notice } from "./dom";
import { errorText, kerasSigned, visibleName } from "./format";
import type { CompareResponse, RunComparison } from "./types";

interface Column<T> {
  field: keyof T & string;
  header: string;
  help: string;
  /** The field holding the text shown instead of the number (a share). */
  text?: keyof T & string;
  /** The field holding the number's standard error. */
  stderr?: keyof T & string;
}

type Summary = RunComparison["summary"];
type BoundaryRecord = RunComparison["boundaries"][number];

const SUMMARY_COLUMNS: Column<Summary>[] = [
  { field: "mean_jump", header: "mean jump", help: "Mean of first next − reported over the run's boundaries." },
  {
    field: "lag_share",
    header: "lag share",
    help: "Summed lag over summed jump: how much of the jumps is averaging lag (in words when the lag is larger than the jumps or points the other way).",
    text: "lag_share_text",
  },
  { field: "mean_progress", header: "mean progress", help: "Mean of first next − level at end: the model changing, plus noise." },
  {
    field: "mean_mode_gap",
    header: "mean mode gap",
    help: "Mean of train_eval − train_eval in training mode: inference vs. training mode (dropout, batch norm).",
  },
];

const BOUNDARY_COLUMNS: Column<BoundaryRecord>[] = [
  { field: "jump", header: "jump", help: "first next − reported." },
  { field: "lag", header: "lag", help: "level at end − reported: averaging lag, ± one standard error.", stderr: "lag_stderr" },
  { field: "lag_share", header: "lag share", help: "lag / jump (in words when outside 0–100%).", text: "lag_share_text" },
  { field: "progress", header: "progress", help: "first next − level at end." },
  { field: "mode_gap", header: "mode gap", help: "train_eval − train_eval in training mode." },
];

function numberCell<T>(column: Column<T>, record: T): HTMLElement {
  const value = record[column.field] as unknown as number;
  const attrs = { "data-field": column.field, "data-value": String(value) };
  if (column.text) {
    return el("td", { className: "ej-num ej-wrap", text: String(record[column.text]), attrs });
  }
  const children: (HTMLElement | string)[] = [Number.isNaN(value) ? "—" : kerasSigned(value)];
  const error = column.stderr && !Number.isNaN(value) ? errorText(record[column.stderr] as unknown as number) : "";
  if (error) children.push(el("span", { className: "ej-err", text: error }));
  return el("td", { className: "ej-num", attrs }, children);
}

function runCell(run: string, color: string): HTMLElement {
  return el("td", { className: "ej-compare-run", title: visibleName(run) }, [
    el("span", { className: "ej-swatch", attrs: { style: `background:${color}` } }),
    el("span", { className: "ej-run-name", text: visibleName(run) }),
  ]);
}

/** A bar `|jump| / largest` long, filled to the lag share (clamped to 0..1), in the run's colour. */
function jumpBar(jump: number, lagShare: number, shareText: string, largest: number, color: string): HTMLElement {
  const length = largest > 0 && Number.isFinite(jump) ? Math.abs(jump) / largest : 0;
  const filled = Number.isFinite(lagShare) ? Math.min(1, Math.max(0, lagShare)) : 0;
  return el("td", { className: "ej-bar-cell" }, [
    el(
      "div",
      {
        className: "ej-bar",
        testid: "jump-bar",
        title: `jump ${kerasSigned(jump)}; lag share: ${shareText}`,
        attrs: {
          style: `width:${(100 * length).toFixed(1)}%;background:${withAlpha(color, 0.15)};box-shadow:inset 0 0 0 1px ${color}`,
        },
      },
      [el("div", { className: "ej-bar-lag", attrs: { style: `width:${(100 * filled).toFixed(1)}%;background:${color}` } })],
    ),
  ]);
}

/** A header row; titles are `[text, help]`, the first `left` of them aligned left. */
function header(titles: [string, string][], left: number): HTMLElement {
  return el("thead", {}, [
    el(
      "tr",
      {},
      titles.map(([text, help], i) => el("th", { text, title: help, className: i < left ? "ej-left" : "" })),
    ),
  ]);
}

function metricBlock(response: CompareResponse, colorOf: (run: string) => string): HTMLElement {
  const summary = el("table", { className: "ej-table ej-compare-table", testid: "compare-summary" }, [
    header(
      [
        ["run", "Runs selected on the left."],
        ["boundaries", "Epoch boundaries recorded."],
        ...SUMMARY_COLUMNS.map((c): [string, string] => [c.header, c.help]),
      ],
      1,
    ),
    el(
      "tbody",
      {},
      response.runs.map((entry) =>
        el("tr", { testid: "compare-run", attrs: { "data-run": entry.run } }, [
          runCell(entry.run, colorOf(entry.run)),
          el("td", { className: "ej-num", text: String(entry.summary.boundaries) }),
          ...SUMMARY_COLUMNS.map((c) => numberCell(c, entry.summary)),
        ]),
      ),
    ),
  ]);

  const epochs = [...new Set(response.runs.flatMap((r) => r.boundaries.map((b) => b.epoch)))].sort((a, b) => a - b);
  let largest = 0;
  for (const entry of response.runs) {
    for (const b of entry.boundaries) if (Number.isFinite(b.jump)) largest = Math.max(largest, Math.abs(b.jump));
  }
  const rows: HTMLElement[] = [];
  for (const epoch of epochs) {
    const entries = response.runs.flatMap((entry) => {
      const boundary = entry.boundaries.find((b) => b.epoch === epoch);
      return boundary ? [{ run: entry.run, boundary }] : [];
    });
    entries.forEach(({ run, boundary }, i) => {
      const cells: HTMLElement[] = [];
      if (i === 0) {
        cells.push(
          el("td", {
            className: "ej-epoch ej-compare-boundary",
            text: `${epoch + 1} → ${epoch + 2}`,
            attrs: { rowspan: String(entries.length) },
          }),
        );
      }
      cells.push(
        runCell(run, colorOf(run)),
        jumpBar(boundary.jump, boundary.lag_share, boundary.lag_share_text, largest, colorOf(run)),
        ...BOUNDARY_COLUMNS.map((c) => numberCell(c, boundary)),
      );
      rows.push(
        el(
          "tr",
          {
            className: i === 0 ? "ej-group-start" : "",
            testid: "compare-row",
            attrs: { "data-run": run, "data-epoch": String(epoch) },
          },
          cells,
        ),
      );
    });
  }
  const boundaryHeader = header(
    [
      ["epoch", "The boundary between epoch N and epoch N + 1."],
      ["run", "Runs selected on the left."],
      ["jump and lag", "Bar length: the jump's size, relative to the largest here; filled: the share that is averaging lag."],
      ...BOUNDARY_COLUMNS.map((c): [string, string] => [c.header, c.help]),
    ],
    3,
  );
  const boundaries = el("table", { className: "ej-table ej-compare-table", testid: "compare-boundaries" }, [
    boundaryHeader,
    el("tbody", {}, rows),
  ]);
  return el("section", { className: "ej-compare-metric", testid: "compare-metric", attrs: { "data-metric": response.metric } }, [
    el("h3", { className: "ej-card-title", text: visibleName(response.metric) }),
    el("div", { className: "ej-table-wrap" }, [summary]),
    el("div", { className: "ej-table-wrap" }, [boundaries]),
  ]);
}

export class ComparisonView {
  readonly element: HTMLDetailsElement;
  private readonly summaryLine: HTMLElement;
  private readonly body: HTMLElement;

  constructor() {
    this.summaryLine = el("summary", { className: "ej-compare-summary" });
    this.body = el("div", { className: "ej-compare-body" });
    // Closed until asked for: the cards' answers and charts come first.
    this.element = el("details", { className: "ej-card ej-compare", testid: "compare" }, [
      this.summaryLine,
      el("p", {
        className: "ej-hint",
        text:
          "The same boundaries in each run: a shorter bar is a smaller jump; its filled part is averaging lag, " +
          "the rest progress. A larger mode gap means more train-vs-inference difference (dropout, batch norm).",
      }),
      this.body,
    ]);
    this.element.hidden = true;
  }

  /** Shows the metrics that two or more of the runs share; hidden when there is none. */
  render(comparisons: CompareResponse[], colorOf: (run: string) => string): void {
    const shared = comparisons.filter((c) => c.runs.length >= 2);
    this.element.hidden = shared.length === 0;
    const runs = new Set(shared.flatMap((c) => c.runs.map((r) => r.run)));
    this.summaryLine.textContent = `Compare runs: ${runs.size} runs side by side (${[...new Set(shared.map((c) => c.metric))].map(visibleName).join(", ")})`;
    this.body.replaceChildren(...shared.map((c) => metricBlock(c, colorOf)));
  }

  showError(message: string): void {
    this.element.hidden = false;
    this.summaryLine.textContent = "Compare runs";
    this.body.replaceChildren(notice(message, "error"));
  }
}
