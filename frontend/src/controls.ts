// The settings panel: x axis, smoothing, log scale and theme.

import { el } from "./dom";
import type { SettingsStore } from "./settings";
import type { ThemeChoice, XAxis } from "./types";

const AXES: [XAxis, string][] = [
  ["step", "Step"],
  ["epoch", "Epoch"],
  ["relative", "Relative time"],
  ["wall", "Wall time"],
];

const THEMES: [ThemeChoice, string][] = [
  ["system", "System"],
  ["light", "Light"],
  ["dark", "Dark"],
];

function select<T extends string>(options: [T, string][], value: T, testid: string, label: string): HTMLSelectElement {
  const node = el(
    "select",
    { className: "ej-select", testid, attrs: { "aria-label": label } },
    options.map(([v, text]) => el("option", { text, attrs: { value: v } })),
  );
  node.value = value;
  return node;
}

function field(label: string, control: HTMLElement): HTMLElement {
  return el("label", { className: "ej-field" }, [el("span", { className: "ej-field-label", text: label }), control]);
}

export function createControls(store: SettingsStore): HTMLElement {
  const s = store.get();
  const axis = select(AXES, s.xAxis, "x-axis-select", "Horizontal axis");
  axis.addEventListener("change", () => store.update({ xAxis: axis.value as XAxis }));

  const slider = el("input", {
    className: "ej-slider",
    testid: "smoothing-slider",
    attrs: { type: "range", min: "0", max: "0.99", step: "0.01", "aria-label": "Smoothing of batch values" },
  });
  slider.value = String(s.smoothing);
  const sliderValue = el("span", { className: "ej-num ej-slider-value", text: s.smoothing.toFixed(2) });
  slider.addEventListener("input", () => {
    sliderValue.textContent = Number(slider.value).toFixed(2);
    store.update({ smoothing: Number(slider.value) });
  });

  const log = el("input", { testid: "log-toggle", attrs: { type: "checkbox" } });
  log.checked = s.logY;
  log.addEventListener("change", () => store.update({ logY: log.checked }));

  const theme = select(THEMES, s.theme, "theme-select", "Theme");
  theme.addEventListener("change", () => store.update({ theme: theme.value as ThemeChoice }));

  return el("section", { className: "ej-panel" }, [
    el("div", { className: "ej-panel-title", text: "Settings" }),
    field("Horizontal axis", axis),
    el("div", { className: "ej-field" }, [
      el("span", { className: "ej-field-label", text: "Smoothing (batch values)" }),
      el("div", { className: "ej-slider-row" }, [slider, sliderValue]),
    ]),
    el("label", { className: "ej-check" }, [log, el("span", { text: "Log scale (y)" })]),
    field("Theme", theme),
  ]);
}
