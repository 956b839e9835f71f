// Light/dark theme: follows prefers-color-scheme unless the user picks one.

import type { ThemeChoice } from "./types";

export type Theme = "light" | "dark";

/** Colours the canvas needs (CSS variables cannot reach it). */
export interface ChartColors {
  ink: string;
  muted: string;
  grid: string;
  background: string;
  epochLine: string;
  bracket: string;
  bracketSoft: string;
  nonFinite: string;
  trainEval: string;
  val: string;
  /** Learning-rate changes and fit starts (share/panels.py: LR_MARK, FIT_MARK). */
  lrMark: string;
  fitMark: string;
  /** The model's level ± stderr at the epoch edges (share/panels.py: LEVEL). */
  level: string;
}

const COLORS: Record<Theme, ChartColors> = {
  light: {
    ink: "#202124",
    muted: "#5f6368",
    grid: "rgba(0, 0, 0, 0.07)",
    background: "#ffffff",
    epochLine: "rgba(60, 64, 67, 0.45)",
    bracket: "#d81b60",
    bracketSoft: "rgba(216, 27, 96, 0.55)",
    nonFinite: "#d93025",
    trainEval: "#1b1b1b",
    val: "#7b1fa2",
    lrMark: "#00695c",
    fitMark: "#3949ab",
    level: "#2e7d32",
  },
  dark: {
    ink: "#e8eaed",
    muted: "#9aa0a6",
    grid: "rgba(255, 255, 255, 0.08)",
    background: "#292a2d",
    epochLine: "rgba(232, 234, 237, 0.4)",
    bracket: "#f06292",
    bracketSoft: "rgba(240, 98, 146, 0.6)",
    nonFinite: "#f28b82",
    trainEval: "#f1f3f4",
    val: "#ce93d8",
    lrMark: "#4db6ac",
    fitMark: "#9fa8da",
    level: "#81c784",
  },
};

const query = window.matchMedia("(prefers-color-scheme: dark)");

export function resolveTheme(choice: ThemeChoice): Theme {
  if (choice === "light" || choice === "dark") return choice;
  return query.matches ? "dark" : "light";
}

export function applyTheme(choice: ThemeChoice): Theme {
  const theme = resolveTheme(choice);
  document.documentElement.dataset.theme = theme;
  document.documentElement.style.colorScheme = theme;
  return theme;
}

export function chartColors(theme: Theme): ChartColors {
  return COLORS[theme];
}

/** Calls `listener` when the system theme changes. */
export function onSystemThemeChange(listener: () => void): void {
  query.addEventListener("change", listener);
}
