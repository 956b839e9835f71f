// The run selector: a regex filter and one checkbox per run, in the run's colour.

import { runColor } from "./colors";
import { el } from "./dom";
import type { RunInfo } from "./types";
import { visibleName } from "./format";

export interface RunSelectorEvents {
  onFilter(text: string): void;
  onToggle(runs: string[], selected: boolean): void;
}

/** The regex for a filter text (case-insensitive); null when it is not valid. */
export function filterRegex(text: string): RegExp | null {
  try {
    return new RegExp(text, "i");
  } catch {
    return null;
  }
}

export function matchesFilter(run: string, text: string): boolean {
  const regex = filterRegex(text);
  return regex ? regex.test(run) : run.toLowerCase().includes(text.toLowerCase());
}

export class RunSelector {
  readonly element: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly list: HTMLElement;
  private readonly hint: HTMLElement;
  private runs: RunInfo[] = [];
  private deselected = new Set<string>();

  constructor(
    filter: string,
    private readonly events: RunSelectorEvents,
  ) {
    this.input = el("input", {
      className: "ej-input",
      testid: "run-filter",
      attrs: { type: "search", placeholder: "Filter runs (regex)", "aria-label": "Filter runs (regex)", spellcheck: "false" },
    });
    this.input.value = filter;
    this.input.addEventListener("input", () => {
      this.renderList();
      this.events.onFilter(this.input.value);
    });
    this.hint = el("div", { className: "ej-hint" });
    this.list = el("div", { className: "ej-run-list", attrs: { role: "list" } });
    const all = el("button", { className: "ej-text-button", text: "all", attrs: { type: "button" } });
    const none = el("button", { className: "ej-text-button", text: "none", attrs: { type: "button" } });
    all.addEventListener("click", () => this.events.onToggle(this.visibleRuns(), true));
    none.addEventListener("click", () => this.events.onToggle(this.visibleRuns(), false));
    this.element = el("section", { className: "ej-panel" }, [
      el("div", { className: "ej-panel-title" }, [el("span", { text: "Runs" }), el("span", { className: "ej-spacer" }), all, none]),
      this.input,
      this.hint,
      this.list,
    ]);
  }

  setRuns(runs: RunInfo[], deselected: Set<string>): void {
    this.runs = runs;
    this.deselected = deselected;
    this.renderList();
  }

  private visibleRuns(): string[] {
    return this.runs.map((r) => r.run).filter((run) => matchesFilter(run, this.input.value));
  }

  private renderList(): void {
    const text = this.input.value;
    const valid = filterRegex(text) !== null;
    this.input.classList.toggle("ej-invalid", !valid);
    this.input.setAttribute("aria-invalid", String(!valid));
    const visible = this.visibleRuns();
    this.hint.textContent = valid
      ? text
        ? `${visible.length} of ${this.runs.length} runs match`
        : ""
      : "Not a valid regular expression; matching it as plain text.";
    this.list.replaceChildren(
      ...this.runs
        .filter((r) => visible.includes(r.run))
        .map((r) => {
          const box = el("input", { attrs: { type: "checkbox" } });
          box.checked = !this.deselected.has(r.run);
          box.addEventListener("change", () => this.events.onToggle([r.run], box.checked));
          const swatch = el("span", { className: "ej-swatch" });
          swatch.style.background = runColor(r.run);
          const label = el("label", { className: "ej-run-item", testid: "run-item", title: visibleName(r.run), attrs: { "data-run": r.run, role: "listitem" } }, [
            box,
            swatch,
            el("span", { className: "ej-run-name", text: visibleName(r.run) }),
          ]);
          if (r.problems.length) {
            label.append(el("span", { className: "ej-problem-mark", text: "!", title: r.problems.map(visibleName).join("\n") }));
          }
          return label;
        }),
    );
  }
}
