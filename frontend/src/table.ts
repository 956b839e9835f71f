// The jump table: one row per epoch, the last one included, numbers exactly
// as served (shown as Keras prints them), estimates with their ± stacked
// under the value. The columns that explain the jump show by default; the
// rest of the split appears with "More columns", so the table fits a narrow
// card.

import { el } from "./dom";
import { errorText, formatRate, kerasSigned, kerasValue } from "./format";
import type { Boundary, EpochEndRecord } from "./types";

/** One table row: an epoch's end, and the jump into the next epoch, if any. */
interface Row {
  end: EpochEndRecord;
  boundary: Boundary | null;
}

interface Column {
  field: string;
  header: string;
  help: string;
  value(row: Row): number;
  stderr?(row: Row): number;
  signed?: boolean;
  /** Shown only with "More columns". */
  detail?: boolean;
  /** Custom text (e.g. a learning-rate change). */
  text?(row: Row): string;
}

const fromBoundary = (pick: (b: Boundary) => number) => (row: Row) => (row.boundary ? pick(row.boundary) : NaN);

const COLUMNS: Column[] = [
  {
    field: "reported",
    header: "printed",
    help: "What Keras printed for the epoch: the running mean over all its batches.",
    value: (r) => r.end.reported,
  },
  {
    field: "level_at_end",
    header: "level at end",
    help: "Where the model really was at the epoch's last batch (a line fitted to the last batches), ± one standard error.",
    value: (r) => r.end.level_at_end,
    stderr: (r) => r.end.lag_stderr,
  },
  {
    field: "first_next",
    header: "next: batch 1",
    help: "The next epoch's first batch (what Keras prints first in that epoch).",
    value: fromBoundary((b) => b.first_next),
  },
  {
    field: "jump",
    header: "jump",
    help: "next: batch 1 − printed: the jump you see in the Keras log.",
    value: fromBoundary((b) => b.jump),
    signed: true,
  },
  {
    field: "lag",
    header: "lag",
    help: "level at end − printed: the part of the jump due to averaging over the epoch, ± one standard error.",
    value: fromBoundary((b) => b.lag),
    stderr: fromBoundary((b) => b.lag_stderr),
    signed: true,
  },
  {
    field: "val",
    header: "val",
    help: "Validation value after the epoch.",
    value: (r) => r.end.val,
  },
  {
    field: "progress",
    header: "rest",
    help: "next: batch 1 − level at end = step + first-batch noise: what the lag does not explain.",
    value: fromBoundary((b) => b.progress),
    signed: true,
    detail: true,
  },
  {
    field: "boundary_step",
    header: "step",
    help: "The model's level just after the boundary − level at end: the model really changing, ± one standard error.",
    value: fromBoundary((b) => b.boundary_step),
    stderr: fromBoundary((b) => b.boundary_step_stderr),
    signed: true,
    detail: true,
  },
  {
    field: "first_batch_noise",
    header: "batch-1 noise",
    help: "next: batch 1 − the model's level just after the boundary: that one batch's own noise.",
    value: fromBoundary((b) => b.first_batch_noise),
    signed: true,
    detail: true,
  },
  {
    field: "noise_sd",
    header: "noise SD",
    help: "The usual batch-to-batch spread (one standard deviation) near the boundary.",
    value: fromBoundary((b) => b.noise_sd),
    detail: true,
  },
  {
    field: "train_eval",
    header: "train_eval",
    help: "The fixed training subset, evaluated in inference mode after the epoch.",
    value: (r) => r.end.train_eval,
    detail: true,
  },
  {
    field: "mode_gap",
    header: "mode gap",
    help: "train_eval − train_eval in training mode: the same subset and weights in inference vs. training mode (dropout, batch norm).",
    value: fromBoundary((b) => b.mode_gap),
    signed: true,
    detail: true,
  },
  {
    field: "learning_rate",
    header: "learning rate",
    help: "The learning rate across the boundary (before → after), where recorded.",
    value: fromBoundary((b) => b.learning_rate_after),
    detail: true,
    text: (r) => {
      const b = r.boundary;
      if (!b || !Number.isFinite(b.learning_rate_before) || !Number.isFinite(b.learning_rate_after)) return "—";
      if (b.learning_rate_before === b.learning_rate_after) return formatRate(b.learning_rate_after);
      return `${formatRate(b.learning_rate_before)} → ${formatRate(b.learning_rate_after)}`;
    },
  },
];

export interface TableEvents {
  onSelect(epoch: number): void;
  onHover(epoch: number | null): void;
}

function cell(column: Column, row: Row): HTMLElement {
  const value = column.value(row);
  const stderr = column.stderr ? column.stderr(row) : NaN;
  const classes = ["ej-num"];
  if (column.signed) classes.push("ej-signed");
  if (column.detail) classes.push("ej-detail");
  const attrs: Record<string, string> = { "data-field": column.field, "data-value": String(value) };
  if (column.stderr) attrs["data-stderr"] = String(stderr);
  let children: (HTMLElement | string)[];
  if (column.text) {
    children = [column.text(row)];
  } else if (Number.isNaN(value)) {
    children = ["—"];
  } else {
    children = [column.signed ? kerasSigned(value) : kerasValue(value)];
    const error = errorText(stderr);
    if (error) children.push(el("span", { className: "ej-err", text: error }));
  }
  return el("td", { className: classes.join(" "), attrs }, children);
}

export class JumpTable {
  readonly element: HTMLTableElement;
  private readonly body: HTMLTableSectionElement;
  private rows = new Map<number, HTMLTableRowElement>();
  private valBetter = new Set<number>();

  constructor(private readonly events: TableEvents) {
    const head = el("thead", {}, [
      el("tr", {}, [
        el("th", { text: "epoch", title: "Epoch N, and the jump into epoch N + 1, as Keras numbers them." }),
        ...COLUMNS.map((c) => el("th", { text: c.header, title: c.help, className: c.detail ? "ej-detail" : "" })),
      ]),
    ]);
    this.body = el("tbody");
    this.element = el("table", { className: "ej-table ej-jump-table", testid: "jump-table" }, [head, this.body]);
    this.body.addEventListener("mouseleave", () => this.events.onHover(null));
  }

  /** Shows or hides the detail columns (the rest of the split). */
  showDetails(show: boolean): void {
    this.element.classList.toggle("ej-show-details", show);
  }

  render(ends: EpochEndRecord[], boundaries: Boundary[], selected: number | null): void {
    this.rows.clear();
    const byEpoch = new Map(boundaries.map((b) => [b.epoch, b]));
    const last = ends.length ? ends[ends.length - 1].epoch : null;
    this.body.replaceChildren(
      ...ends.map((end) => {
        const boundary = byEpoch.get(end.epoch) ?? null;
        const row = { end, boundary };
        const label = boundary ? `${end.epoch + 1} → ${end.epoch + 2}` : `${end.epoch + 1}${end.epoch === last ? " (last)" : ""}`;
        const tr = el(
          "tr",
          {
            testid: boundary ? "jump-row" : "epoch-row",
            className: boundary ? "" : "ej-end-row",
            attrs: { "data-epoch": String(end.epoch), ...(boundary ? { tabindex: "0" } : {}) },
          },
          [el("td", { className: "ej-epoch", text: label }), ...COLUMNS.map((c) => cell(c, row))],
        );
        if (boundary) {
          tr.addEventListener("click", () => this.events.onSelect(end.epoch));
          tr.addEventListener("mouseenter", () => this.events.onHover(end.epoch));
          tr.addEventListener("keydown", (e) => {
            if (e.key === "Enter" || e.key === " ") {
              e.preventDefault();
              this.events.onSelect(end.epoch);
            }
          });
        } else {
          tr.addEventListener("mouseenter", () => this.events.onHover(null));
        }
        this.rows.set(end.epoch, tr);
        return tr;
      }),
    );
    this.setSelected(selected);
    this.markValidation(this.valBetter);
  }

  /** Marks the val cells of the epochs whose validation beats what Keras printed. */
  markValidation(epochs: Set<number>): void {
    this.valBetter = epochs;
    for (const [epoch, row] of this.rows) {
      const valCell = row.querySelector<HTMLElement>('[data-field="val"]');
      if (!valCell) continue;
      const better = epochs.has(epoch);
      valCell.classList.toggle("ej-val-better", better);
      if (better) valCell.title = "Validation beats what Keras printed: why is under the table.";
      else valCell.removeAttribute("title");
    }
  }

  setSelected(epoch: number | null): void {
    for (const [e, row] of this.rows) {
      row.classList.toggle("ej-selected", e === epoch);
      row.setAttribute("aria-selected", String(e === epoch));
    }
  }
}
