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
# The chart's colours by theme ("light", "dark"), keyed as the tab names them
# (frontend/src/theme.ts); `#rrggbb` or CSS `rgba(r, g, b, a)`. The pictures
# (share/panels.py) use the light theme.
CHART_COLORS = {
    theme: dict(colors) for theme, colors in _SHARED["chart_colors"].items()
}
# Sizes in CSS px of the tab's chart; the pictures take them as shares of a
# chart CHART_WIDTH_PX wide. Learning-rate changes closer than MARK_GAP_PX
# merge into one bar when there are BAND_MIN_MARKS or more; the model-level
# box is LEVEL_BOX_PX wide.
CHART_WIDTH_PX = int(_SHARED["chart_px"]["width"])
MARK_GAP_PX = int(_SHARED["chart_px"]["mark_gap"])
LEVEL_BOX_PX = int(_SHARED["chart_px"]["level_box"])
BAND_MIN_MARKS = int(_SHARED["band_min_marks"])
# An HTML report's data: the id of its `<script type="application/json">`,
# and the newest layout of it (the bundle reads formats 1 to this one).
DATA_ELEMENT_ID = str(_SHARED["report"]["data_element_id"])
REPORT_FORMAT = int(_SHARED["report"]["format"])
# The parts of a `series` answer a step range cuts, on the server and in a
# report's zoom alike: each keeps the points with start <= step <= end (both
# inclusive); the learning-rate and fit-start marks are kept whole.
RANGE_FILTERED_SERIES = tuple(_SHARED["range_filtered_series"])
