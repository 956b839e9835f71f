// "Why is validation better than training?": under the jump table, the epochs
// whose validation beats what Keras printed, with that gap split (by the
// server) into averaging lag, the training subset against the last batches,
// dropout and batch norm (the mode gap) and the generalisation gap. Numbers
// and sentences are the server's, only formatted.

import { el } from "./dom";
import { kerasSigned, kerasValue } from "./format";
import type { ValidationGap } from "./types";

type Field = keyof ValidationGap;

// The parts come as the server writes them (`parts_text`): a share only
// within 0–100%, in words otherwise, as in the server's sentence.

interface Column {
  field: Field;
  header: string;
  help: string;
  /** The part's text in `parts_text`. */
  part?: keyof ValidationGap["parts_text"];
}

const COLUMNS: Column[] = [
  { field: "reported", header: "printed", help: "What Keras printed for the epoch: the running mean over its batches." },
  { field: "val", header: "val", help: "Validation value after the epoch." },
  { field: "val_gap", header: "gap", help: "val − printed: how much better validation looks." },
  {
    field: "lag",
    header: "lag",
    help: "level at end − printed: the running mean trailing the model (averaging lag), ± one standard error.",
    part: "lag",
  },
  {
    field: "subset_gap",
    header: "subset",
    help: "train_eval in training mode − level at end: the training subset (epoch-end weights, training mode) vs. the epoch's last batches.",
    part: "subset_gap",
  },
  {
    field: "mode_gap",
    header: "mode gap",
    help: "train_eval − train_eval in training mode: the same subset and weights in inference vs. training mode (dropout, batch norm).",
    part: "mode_gap",
  },
  {
    field: "generalisation_gap",
    header: "val − train_eval",
    help: "Validation vs. the training subset, both in inference mode: the generalisation gap.",
    part: "generalisation_gap",
  },
];

function cellText(column: Column, record: ValidationGap): string {
  const value = record[column.field] as number;
  if (column.field === "reported" || column.field === "val") return kerasValue(value);
  if (Number.isNaN(value)) return "—";
  return column.part ? record.parts_text[column.part] : kerasSigned(value);
}

export class ValidationNote {
  readonly element: HTMLElement;
  private readonly body: HTMLTableSectionElement;
  private readonly sentence: HTMLElement;
  private records: ValidationGap[] = [];
  private focused: number | null = null;

  constructor() {
    this.body = el("tbody");
    this.sentence = el("p", { className: "ej-val-sentence", testid: "val-sentence" });
    this.element = el("section", { className: "ej-val-note", testid: "val-note" }, [
      el("h4", { className: "ej-val-title", text: "Why is validation better than training?" }),
      el("div", { className: "ej-table-wrap" }, [
        el("table", { className: "ej-table ej-val-table", testid: "val-table" }, [
          el("thead", {}, [
            el("tr", {}, [
              el("th", { text: "after epoch", title: "The epoch after which validation beats what Keras printed." }),
              ...COLUMNS.map((c) => el("th", { text: c.header, title: c.help })),
            ]),
          ]),
          this.body,
        ]),
      ]),
      this.sentence,
    ]);
    this.element.hidden = true;
    this.body.addEventListener("mouseleave", () => this.show(null));
  }

  /** Shows the epochs whose validation beats the running mean; hidden when none does. */
  render(records: ValidationGap[]): void {
    this.records = records.filter((r) => r.val_better);
    this.element.hidden = this.records.length === 0;
    this.body.replaceChildren(
      ...this.records.map((record) => {
        const row = el("tr", { testid: "val-row", attrs: { "data-epoch": String(record.epoch), tabindex: "0" } }, [
          el("td", { className: "ej-epoch", text: String(record.epoch + 1) }),
          ...COLUMNS.map((c) =>
            el("td", {
              className: c.part ? "ej-num ej-wrap" : "ej-num",
              text: cellText(c, record),
              attrs: { "data-field": c.field, "data-value": String(record[c.field]) },
            }),
          ),
        ]);
        row.addEventListener("mouseenter", () => this.show(record.epoch));
        row.addEventListener("click", () => this.follow(record.epoch));
        row.addEventListener("keydown", (e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            this.follow(record.epoch);
          }
        });
        return row;
      }),
    );
    this.show(null);
  }

  /** The epochs with a note, to mark in the jump table. */
  epochs(): Set<number> {
    return new Set(this.records.map((r) => r.epoch));
  }

  /** Shows `epoch`'s sentence (if it has a row) until another is followed:
   * the jump table's selected or hovered boundary, or a clicked row. */
  follow(epoch: number | null): void {
    this.focused = epoch;
    this.show(null);
  }

  /** The sentence of the hovered row, else of the followed epoch, else of the last row. */
  private show(hovered: number | null): void {
    const byEpoch = (epoch: number | null) => this.records.find((r) => r.epoch === epoch);
    const record =
      byEpoch(hovered) ?? byEpoch(this.focused) ?? this.records[this.records.length - 1];
    for (const row of this.body.rows) {
      row.classList.toggle("ej-selected", record !== undefined && row.dataset.epoch === String(record.epoch));
    }
    this.sentence.textContent = record ? record.sentence : "";
  }
}
