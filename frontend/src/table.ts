// The jump table: one row per epoch, the last one included, its columns and
// every cell as the server writes them (`jumps`: `columns`, each row's
// `text`). An estimate's ± sits under its value, so a column stays one
// number wide; the columns marked `more` appear with "More columns", so the
// table fits a narrow card.

import { el } from "./dom";
import type { Boundary, EpochEndRecord, TableColumn } from "./types";

export interface TableEvents {
  onSelect(epoch: number): void;
  onHover(epoch: number | null): void;
}

/** The cell of `column` in a row's `text`: the value, and its "± error" under it. */
function cell(column: TableColumn, text: Record<string, string>): HTMLElement {
  const shown = text[column.key] ?? "";
  const [value, error] = shown.split(" ± ");
  const classes = column.key === "epoch" ? ["ej-epoch"] : ["ej-num"];
  if (column.more) classes.push("ej-detail");
  const children: (HTMLElement | string)[] = [value];
  if (error !== undefined) children.push(el("span", { className: "ej-err", text: `± ${error}` }));
  return el("td", { className: classes.join(" "), attrs: { "data-field": column.key } }, children);
}

export class JumpTable {
  readonly element: HTMLTableElement;
  private readonly head: HTMLTableSectionElement;
  private readonly body: HTMLTableSectionElement;
  private rows = new Map<number, HTMLTableRowElement>();
  private valBetter = new Set<number>();

  constructor(private readonly events: TableEvents) {
    this.head = el("thead");
    this.body = el("tbody");
    this.element = el("table", { className: "ej-table ej-jump-table", testid: "jump-table" }, [this.head, this.body]);
    this.body.addEventListener("mouseleave", () => this.events.onHover(null));
  }

  /** Shows or hides the columns shown on request (`more`). */
  showDetails(show: boolean): void {
    this.element.classList.toggle("ej-show-details", show);
  }

  render(columns: TableColumn[], ends: EpochEndRecord[], boundaries: Boundary[], selected: number | null): void {
    this.head.replaceChildren(
      el("tr", {}, columns.map((c) => el("th", { text: c.label, title: c.help, className: c.more ? "ej-detail" : "" }))),
    );
    this.rows.clear();
    const withBoundary = new Set(boundaries.map((b) => b.epoch));
    this.body.replaceChildren(
      ...ends.map((end) => {
        const boundary = withBoundary.has(end.epoch);
        const tr = el(
          "tr",
          {
            testid: boundary ? "jump-row" : "epoch-row",
            className: boundary ? "" : "ej-end-row",
            attrs: { "data-epoch": String(end.epoch), ...(boundary ? { tabindex: "0" } : {}) },
          },
          columns.map((c) => cell(c, end.text)),
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
