// The dashboard's settings: one observable object, remembered in localStorage.

import type { Settings, ThemeChoice, XAxis } from "./types";

const KEY = "epochjump.settings.v1";
const X_AXES: XAxis[] = ["step", "epoch", "relative", "wall"];
const THEMES: ThemeChoice[] = ["system", "light", "dark"];

export const DEFAULT_SETTINGS: Settings = {
  xAxis: "step",
  logY: false,
  smoothing: 0.6,
  theme: "system",
  runFilter: "",
};

type Listener = (settings: Settings, changed: Set<keyof Settings>) => void;

function load(): Settings {
  const settings = { ...DEFAULT_SETTINGS };
  try {
    const saved = JSON.parse(window.localStorage.getItem(KEY) ?? "{}") as Partial<Settings>;
    if (X_AXES.includes(saved.xAxis as XAxis)) settings.xAxis = saved.xAxis as XAxis;
    if (typeof saved.logY === "boolean") settings.logY = saved.logY;
    if (typeof saved.smoothing === "number" && saved.smoothing >= 0 && saved.smoothing <= 0.99) {
      settings.smoothing = saved.smoothing;
    }
    if (THEMES.includes(saved.theme as ThemeChoice)) settings.theme = saved.theme as ThemeChoice;
    if (typeof saved.runFilter === "string") settings.runFilter = saved.runFilter;
  } catch {
    // Unavailable or corrupt storage: start from the defaults.
  }
  return settings;
}

export class SettingsStore {
  private value: Settings = load();
  private listeners: Listener[] = [];

  get(): Settings {
    return this.value;
  }

  update(patch: Partial<Settings>): void {
    const changed = new Set<keyof Settings>();
    for (const key of Object.keys(patch) as (keyof Settings)[]) {
      if (patch[key] !== this.value[key]) changed.add(key);
    }
    if (changed.size === 0) return;
    this.value = { ...this.value, ...patch };
    try {
      window.localStorage.setItem(KEY, JSON.stringify(this.value));
    } catch {
      // Storage may be disabled; settings then last for the page only.
    }
    for (const listener of this.listeners) listener(this.value, changed);
  }

  subscribe(listener: Listener): void {
    this.listeners.push(listener);
  }
}
