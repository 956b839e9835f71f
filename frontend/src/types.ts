// The shapes of the epochjump HTTP API (docs/http_api.md), after non-finite
// strings have been turned back into numbers.

import type { EpochEndFields, JumpFields } from "./generated/contract";

export interface RunInfo {
  run: string;
  metrics: string[];
  epochs: number;
  batches: number;
  has_train_eval: boolean;
  has_val: boolean;
  resolution: string;
  problems: string[];
}

export interface RunsResponse {
  runs: RunInfo[];
  warning: string | null;
}

export interface BatchPoints {
  step: number[];
  epoch: number[];
  epoch_fraction: number[];
  wall_time: number[];
  batch_value: number[];
  running_mean: number[];
}

export interface EvalPoints {
  step: number[];
  epoch: number[];
  epoch_fraction: number[];
  wall_time: number[];
  value: number[];
}

export interface StepRange {
  start: number;
  end: number;
}

/** Learning-rate values, each in force from its step on (`series.learning_rate`). */
export interface RateMarks {
  step: number[];
  epoch_fraction: number[];
  value: number[];
}

/** The first step of each `fit` (`series.fit_starts`). */
export interface StepMarks {
  step: number[];
  epoch_fraction: number[];
}

export interface SeriesResponse {
  run: string;
  metric: string;
  epoch_starts: number[];
  range: StepRange;
  total_batches: number;
  downsampled: boolean;
  resolution: string;
  batches: BatchPoints;
  train_eval: EvalPoints;
  /** The same subset evaluated in training mode (dropout on, batch statistics). */
  train_eval_training_mode: EvalPoints;
  val: EvalPoints;
  learning_rate: RateMarks;
  fit_starts: StepMarks;
}

/** One epoch boundary from the `jumps` route: a `Jump` (its fields generated from
 * plugin/epochjump/analysis/records.py) without its `metric`, and its words. */
export interface Boundary extends Omit<JumpFields, "metric"> {
  /** This epoch's table row, one cell per column key, as the server writes it. */
  text: Record<string, string>;
  /** `level_after ± level_after_stderr` as the server writes it. */
  level_after_text: string;
  /** What happened at this boundary, in words: shown for the selected row. */
  detail: string;
}

/** Where one epoch ended (the last one included), from the `jumps` route: an
 * `EpochEnd` without its `metric`, and its table row. */
export interface EpochEndRecord extends Omit<EpochEndFields, "metric"> {
  /** This epoch's table row, one cell per column key, as the server writes it. */
  text: Record<string, string>;
}

/** One column of the jump table, in the server's order and words. */
export interface TableColumn {
  key: string;
  label: string;
  help: string;
  /** Shown only with "More columns". */
  more: boolean;
}

export interface JumpsResponse {
  run: string;
  metric: string;
  estimator: string;
  /** The answer, at most three lines, said first. */
  answer: string[];
  columns: TableColumn[];
  boundaries: Boundary[];
  epoch_ends: EpochEndRecord[];
}

export type XAxis = "step" | "epoch" | "relative" | "wall";
export type ThemeChoice = "system" | "light" | "dark";

export interface Settings {
  xAxis: XAxis;
  logY: boolean;
  smoothing: number;
  theme: ThemeChoice;
  runFilter: string;
}

/** One run's jumps of a metric in a few numbers (the `compare` route's `summary`). */
export interface CompareSummary {
  boundaries: number;
  mean_jump: number;
  mean_lag: number;
  mean_progress: number;
  mean_mode_gap: number;
  lag_share: number;
  /** The share as shown: a percentage only within 0–100%, else words. */
  lag_share_text: string;
}

export interface CompareBoundary {
  epoch: number;
  jump: number;
  lag: number;
  lag_stderr: number;
  progress: number;
  lag_share: number;
  lag_share_text: string;
  mode_gap: number;
}

/** After one epoch: `val - reported = lag + subset_gap + mode_gap + generalisation_gap`
 * (`subset_gap` and `mode_gap` NaN without a training-mode evaluation). */
export interface ValidationGap {
  epoch: number;
  last_step: number;
  reported: number;
  level_at_end: number;
  train_eval: number;
  val: number;
  val_gap: number;
  lag: number;
  mode_gap: number;
  generalisation_gap: number;
  train_eval_training_mode: number;
  subset_gap: number;
  lag_share: number;
  subset_share: number;
  mode_share: number;
  generalisation_share: number;
  val_better: boolean;
  lag_stderr: number;
  /** Each part as shown, "+0.0392 ± 0.0040 (67%)": the share only within 0–100%. */
  parts_text: { lag: string; subset_gap: string; mode_gap: string; generalisation_gap: string };
  sentence: string;
}

export interface RunComparison {
  run: string;
  summary: CompareSummary;
  boundaries: CompareBoundary[];
  validation: ValidationGap[];
}

export interface CompareResponse {
  metric: string;
  higher_is_better: boolean;
  estimator: string;
  runs: RunComparison[];
}
