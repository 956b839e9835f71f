"""Constants shared by the Python package and the TypeScript tab (`constants.json`).

The bundle imports the same file at build time (frontend/src/constants.ts),
so the two sides cannot drift apart.
"""

import json
import os

with open(os.path.join(os.path.dirname(__file__), "constants.json"), "rb") as _f:
    _SHARED = json.load(_f)

# Run colours, in the order runs are given them (the first is TensorBoard's orange).
RUN_COLORS = tuple(_SHARED["run_colors"])
# The most runs one `compare` request may name; the tab asks in batches.
COMPARE_MAX_RUNS = int(_SHARED["compare_max_runs"])
# Batch points per `series` answer: default, and the range `max_points` may take.
DEFAULT_MAX_POINTS = int(_SHARED["series_max_points"]["default"])
MAX_POINTS_RANGE = (
    int(_SHARED["series_max_points"]["min"]),
    int(_SHARED["series_max_points"]["max"]),
)
# Batch points per series embedded in an HTML report.
REPORT_MAX_POINTS = int(_SHARED["report_max_points"])
