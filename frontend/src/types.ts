// The shapes of the epochjump HTTP API (docs/http_api.md), after non-finite
// strings have been turned back into numbers, and the tab's settings. The API's
// shapes are generated from plugin/epochjump/responses.py (dev/contract_ts.py).

export type {
  BatchPoints,
  Boundary,
  CompareBoundary,
  CompareResponse,
  CompareSummary,
  EpochEndRecord,
  EvalPoints,
  JumpsResponse,
  PartsText,
  RateMarks,
  RunComparison,
  RunInfo,
  RunsResponse,
  SeriesResponse,
  StepMarks,
  StepRange,
  TableColumn,
  ValidationGap,
} from "./generated/contract";

export type XAxis = "step" | "epoch" | "relative" | "wall";
export type ThemeChoice = "system" | "light" | "dark";

export interface Settings {
  xAxis: XAxis;
  logY: boolean;
  smoothing: number;
  theme: ThemeChoice;
  runFilter: string;
}
