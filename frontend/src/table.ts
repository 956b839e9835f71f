// The jump table: one row per epoch boundary, numbers exactly as served.

import { el } from "./dom";
import { formatSigned, formatValue } from "./format";
import type { Boundary } from "./types";

type Field = keyof Boundary;

interface Column {
  field: Field;
  header: string;
  help: string;
  signed?: boolean;
  /** NaN here means "not recorded", shown as a dash. */
  optional?: boolean;
}

const COLUMNS: Column[] = [
  { field: "reported", header: "reported", help: "What Keras printed for the epoch: the running mean at its last batch." },
  { field: "level_at_end", header: "level at end", help: "Where the model really was at the end of the epoch (mean of the last batches)." },
  { field: "first_next", header: "first next", help: "The first value of the next epoch (its first batch)." },
  { field: "jump", header: "jump", help: "first next − reported: the jump you see in the Keras log.", signed: true },
  { field: "lag", header: "lag", help: "level at end − reported: the part of the jump due to averaging over the epoch.", signed: true },
  { field: "progress", header: "progress", help: "first next − level at end: the model changing, plus batch noise.", signed: true },
  { field: "mode_gap", header: "mode gap", help: "train_eval − train_eval in training mode: the same subset and weights in inference vs. training mode (dropout, batch norm).", signed: true, optional: true },
  { field: "val", header: "val", help: "Validation value after the epoch.", optional: true },
];

export interface TableEvents {
  onSelect(epoch: number): void;
  onHover(epoch: number | null): void;
}

function cellText(column: Column, value: number): string {
  if (column.optional && Number.isNaN(value)) return "—";
  return column.signed ? formatSigned(value) : formatValue(value);
}

export class JumpTable {
  readonly element: HTMLTableElement;
  private readonly body: HTMLTableSectionElement;
  private rows = new Map<number, HTMLTableRowElement>();
  private valBetter = new Set<number>();

  constructor(private readonly events: TableEvents) {
    const head = el("thead", {}, [
      el("tr", {}, [
        el("th", { text: "epoch", title: "The boundary between epoch N and epoch N + 1, as Keras numbers them." }),
        ...COLUMNS.map((c) => el("th", { text: c.header, title: c.help })),
      ]),
    ]);
    this.body = el("tbody");
    this.element = el("table", { className: "ej-table", testid: "jump-table" }, [head, this.body]);
    this.body.addEventListener("mouseleave", () => this.events.onHover(null));
  }

  render(boundaries: Boundary[], selected: number | null): void {
    this.rows.clear();
    this.body.replaceChildren(
      ...boundaries.map((b) => {
        const row = el("tr", { testid: "jump-row", attrs: { "data-epoch": String(b.epoch), tabindex: "0" } }, [
          el("td", { className: "ej-epoch", text: `${b.epoch + 1} → ${b.epoch + 2}` }),
          ...COLUMNS.map((c) =>
            el("td", {
              className: c.signed ? "ej-num ej-signed" : "ej-num",
              text: cellText(c, b[c.field] as number),
              attrs: { "data-field": c.field, "data-value": String(b[c.field]) },
            }),
          ),
        ]);
        row.addEventListener("click", () => this.events.onSelect(b.epoch));
        row.addEventListener("mouseenter", () => this.events.onHover(b.epoch));
        row.addEventListener("keydown", (e) => {
          if (e.key === "Enter" || e.key === " ") {
            e.preventDefault();
            this.events.onSelect(b.epoch);
          }
        });
        this.rows.set(b.epoch, row);
        return row;
      }),
    );
    this.setSelected(selected);
    this.markValidation(this.valBetter);
  }

  /** Marks the val cells of the epochs whose validation beats what Keras printed. */
  markValidation(epochs: Set<number>): void {
    this.valBetter = epochs;
    for (const [epoch, row] of this.rows) {
      const cell = row.querySelector<HTMLElement>('[data-field="val"]');
      if (!cell) continue;
      const better = epochs.has(epoch);
      cell.classList.toggle("ej-val-better", better);
      if (better) cell.title = "Validation beats what Keras printed: why is under the table.";
      else cell.removeAttribute("title");
    }
  }

  setSelected(epoch: number | null): void {
    for (const [e, row] of this.rows) {
      row.classList.toggle("ej-selected", e === epoch);
      row.setAttribute("aria-selected", String(e === epoch));
    }
  }
}
