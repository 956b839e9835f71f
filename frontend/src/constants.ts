// Constants shared with the Python package: one JSON file, read by both sides.
import shared from "../../plugin/epochjump/constants.json";

/** Run colours, in the order runs are given them. */
export const RUN_COLORS: readonly string[] = shared.run_colors;
/** The most runs one `compare` request names (the server refuses more). */
export const COMPARE_MAX_RUNS: number = shared.compare_max_runs;
/** The chart's colours by theme (the pictures draw with the light ones). */
export const CHART_COLORS = shared.chart_colors;
/** Learning-rate changes closer than this (CSS px, about a label's width)
 * merge into a band, when there are `BAND_MIN_MARKS` or more. */
export const MARK_GAP_PX: number = shared.chart_px.mark_gap;
export const BAND_MIN_MARKS: number = shared.band_min_marks;
/** The model-level boxes' width, CSS px: wide enough to read, narrow enough to stay at its edge. */
export const LEVEL_BOX_PX: number = shared.chart_px.level_box;
/** The id of the `<script type="application/json">` holding a report's data. */
export const DATA_ELEMENT_ID: string = shared.report.data_element_id;
/** The newest layout of a report's embedded data this bundle reads. */
export const REPORT_FORMAT: number = shared.report.format;
/** The parts of a `series` answer a step range cuts (start <= step <= end);
 * the marks are kept whole. */
export const RANGE_FILTERED_SERIES: readonly string[] = shared.range_filtered_series;
