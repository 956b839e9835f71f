// Light/dark theme: follows prefers-color-scheme unless the user picks one.

import { CHART_COLORS } from "./constants";
import type { ThemeChoice } from "./types";

export type Theme = "light" | "dark";

/** Colours the canvas needs (CSS variables cannot reach it): constants.json's
 * `chart_colors`, which the pictures (share/panels.py) draw with too. */
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
  /** Learning-rate changes and fit starts. */
  lrMark: string;
  fitMark: string;
  /** The model's level ± stderr at the epoch edges. */
  level: string;
}

const COLORS: Record<Theme, ChartColors> = CHART_COLORS;

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
