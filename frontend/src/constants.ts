// Constants shared with the Python package: one JSON file, read by both sides.
import shared from "../../plugin/epochjump/constants.json";

/** Run colours, in the order runs are given them. */
export const RUN_COLORS: readonly string[] = shared.run_colors;
/** The most runs one `compare` request names (the server refuses more). */
export const COMPARE_MAX_RUNS: number = shared.compare_max_runs;
