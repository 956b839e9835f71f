"""The self-contained HTML report: the tab's own bundle, with its answers embedded.

The page holds two scripts: `<script type="application/json"
id="epochjump-data">` with the `runs`, `series`, `jumps` and `compare` answers
the plugin's routes would give, and the bundled frontend as a module, which
reads that element instead of fetching. Nothing is loaded from anywhere, and
a Content-Security-Policy forbids it.
"""

import datetime
import html
import json
import os
import re

from tensorboard.backend import json_util

from epochjump import answers
from epochjump import constants
from epochjump.analysis import jumps as analysis_jumps
from epochjump.share.visible import visible

# The data element's id and the data's layout version (constants.json; the
# bundle's frontend/src/embedded.ts reads the same file).
DATA_ELEMENT_ID = constants.DATA_ELEMENT_ID
REPORT_FORMAT = constants.REPORT_FORMAT
# Batch points embedded per series: full resolution up to this many batches.
DEFAULT_MAX_POINTS = constants.REPORT_MAX_POINTS
BUNDLE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static", "index.js"
)
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'"
)
# In a script element, "</script" ends it and "<!--" can change how the rest
# is parsed. "\x3C" spells "<" inside JavaScript strings, regular expressions
# and templates, the only places these can occur in the bundle.
_SCRIPT_BREAKERS = re.compile(r"<(?=/script|!--)", re.IGNORECASE)
# In JSON, escaping these keeps the data inert inside a script element.
_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def report_data(runs, summaries, max_points, source):
    """Computes every answer the tab will ask for, as the routes would give them.

    Args:
      runs: list of `RunData`, each read once.
      summaries: list of dicts, the `runs` answer's entries of those runs (in
        the same order), whose `metrics` list the metrics to include.
      max_points: int, the most batch points per series (downsampled above).
      source: str, where the runs came from, shown in the report.

    Returns:
      A JSON-ready dict: `format`, `created` (UTC, ISO 8601), `source`, and
      the answers `runs` (one), `series` and `jumps` (one per run and
      metric) and `compare` (one per metric, covering every run with it).
    """
    series, jumps = [], []
    # Each run's metric is decomposed once, for its jumps and the comparison.
    explained = {}
    for run, entry in zip(runs, summaries):
        for metric in entry["metrics"]:
            explanation = analysis_jumps.explained(run, metric)
            explained.setdefault(metric, {})[run.name] = explanation
            series.append(
                answers.series_answer(run, run[metric], max_points=max_points)
            )
            jumps.append(answers.jumps_answer(run, metric, explanation))
    comparisons = []
    for metric, by_run in explained.items():
        having = [run for run in runs if run.name in by_run]
        comparisons.append(answers.compare_answer(having, metric, explained=by_run))
    created = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return {
        "format": REPORT_FORMAT,
        "created": created.isoformat(),
        "source": source,
        "runs": answers.runs_answer(summaries, None),
        "series": series,
        "jumps": jumps,
        "compare": comparisons,
    }


def render_html(data, bundle, title):
    """The report page.

    Args:
      data: the dict from `report_data`.
      bundle: str, the frontend bundle (`static/index.js`).
      title: str, the page title (any characters).

    Returns:
      str, a complete HTML document.
    """
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="epochjump export">\n'
        f"<title>{html.escape(visible(title))}</title>\n</head>\n<body>\n"
        f'<script type="application/json" id="{DATA_ELEMENT_ID}">'
        f"{embed_json(data)}</script>\n"
        f'<script type="module">\n{embed_script(bundle)}\n</script>\n'
        "</body>\n</html>\n"
    )


def embed_json(data):
    """JSON for a script element: non-finite floats as "NaN"/"Infinity"
    strings (as the routes send them), and `<`, `>`, `&`, U+2028, U+2029
    escaped, so no value can end the element.

    Args:
      data: a JSON-ready object.

    Returns:
      str.
    """
    text = json.dumps(json_util.Cleanse(data), ensure_ascii=False, allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _JSON_ESCAPES[m.group()], text)


def embed_script(code):
    """JavaScript for an inline script element, with `</script` and `<!--`
    spelled `\\x3C/script` and `\\x3C!--`.

    Args:
      code: str, JavaScript source.

    Returns:
      str.
    """
    return _SCRIPT_BREAKERS.sub(r"\\x3C", code)


def read_bundle():
    """The built frontend bundle.

    Returns:
      str.

    Raises:
      FileNotFoundError: if the package was installed without it.
    """
    try:
        with open(BUNDLE, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            "The frontend bundle epochjump/static/index.js is missing; run "
            "`npm ci && npm run build` in frontend/ or reinstall epochjump"
        ) from None
