"""Dev-only stand-in for TensorBoard: serves the built tab and canned epochjump JSON.

Usage (from frontend/, after `npm run build`):

    python dev/mock_server.py [--port 6007] [--empty]

then open http://127.0.0.1:6007/data/plugin_entry.html?name=epochjump.
The JSON follows docs/http_api.md; the numbers are synthetic (3 epochs x 90
batches of an accuracy that climbs within each epoch, with NaN/Inf examples).
"""

import argparse
import json
import math
import os
import random
import urllib.parse
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

STATIC = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "..",
    "plugin",
    "epochjump",
    "static",
)
PREFIX = "/data/plugin/epochjump/"
ENTRY = (
    '<!DOCTYPE html><head><base href="plugin/epochjump/" /></head><body>'
    '<script type="module">import("./index.js").then((m) => void m.render());'
    "</script></body>"
)
EPOCHS, BATCHES, T0 = 3, 90, 1764079200.0


def make_run(name, seed, nan_at=()):
    """Returns {metric: series dict} and the jump records for one run."""
    rng = random.Random(seed)
    steps = list(range(1, EPOCHS * BATCHES + 1))
    metrics = {}
    for metric, level in (
        ("loss", lambda t: 2.3 * math.exp(-3 * t) + 0.15),
        ("accuracy", lambda t: 0.97 - 0.87 * math.exp(-4 * t)),
    ):
        values, means, total = [], [], 0.0
        for i, step in enumerate(steps):
            if i % BATCHES == 0:
                total = 0.0
            v = level(step / len(steps)) + rng.gauss(0, 0.04)
            v = v if metric == "loss" else min(1.0, max(0.0, round(v * 32) / 32))
            if step in nan_at and metric == "loss":
                v = math.nan if step % 2 else math.inf
            total += v
            values.append(v)
            means.append(total / (i % BATCHES + 1))
        metrics[metric] = {
            "step": steps,
            "epoch": [(s - 1) // BATCHES for s in steps],
            "epoch_fraction": [
                (s - 1) // BATCHES + ((s - 1) % BATCHES + 1) / BATCHES for s in steps
            ],
            "wall_time": [T0 + 0.05 * s + 1.5 * ((s - 1) // BATCHES) for s in steps],
            "batch_value": values,
            "running_mean": means,
        }
    evals = {}
    for metric, series in metrics.items():
        for kind, shift in (("train_eval", 0.02), ("val", -0.01)):
            ends = [e * BATCHES + BATCHES for e in range(EPOCHS)]
            sign = -1 if metric == "loss" else 1
            evals[(metric, kind)] = {
                "step": ends,
                "epoch": list(range(EPOCHS)),
                "epoch_fraction": [float(e + 1) for e in range(EPOCHS)],
                "wall_time": [
                    T0 + 0.05 * s + 1.5 * e + 0.7 + (kind == "val")
                    for e, s in enumerate(ends)
                ],
                "value": [series["batch_value"][s - 1] + sign * shift for s in ends],
            }
    return metrics, evals


def jumps(series, evals):
    out = []
    for e in range(EPOCHS - 1):
        last, nxt = e * BATCHES + BATCHES - 1, (e + 1) * BATCHES
        reported = series["running_mean"][last]
        tail = series["batch_value"][last - 8 : last + 1]
        level = sum(tail) / len(tail)
        first = series["running_mean"][nxt]
        te, val = evals["train_eval"]["value"][e], evals["val"]["value"][e]
        jump = first - reported
        out.append(
            {
                "epoch": e,
                "last_step": last + 1,
                "first_next_step": nxt + 1,
                "reported": reported,
                "level_at_end": level,
                "first_next": first,
                "jump": jump,
                "lag": level - reported,
                "progress": first - level,
                "train_eval": te,
                "mode_gap": te - level,
                "val": val,
                "lag_share": (level - reported) / jump if jump else math.nan,
                "lag_stderr": 0.01,
                "level_after": first,
                "level_after_stderr": 0.01,
                "text": row_text(reported, level, first, e),
                "level_after_text": f"{first:.4f} ± 0.0100",
                "detail": f"Keras printed {reported:.4f} for epoch {e + 1}, the "
                f"average over the epoch; the model was already at {level:.4f} at its "
                f"end (mock detail).",
            }
        )
    return out


# The mock's table: a few of the server's columns (docs/http_api.md, `jumps`).
COLUMNS = [
    {"key": "epoch", "label": "epoch", "help": "the epoch", "more": False},
    {"key": "printed", "label": "printed", "help": "the running mean", "more": False},
    {"key": "level_at_end", "label": "level at end", "help": "± stderr", "more": False},
    {"key": "next", "label": "next", "help": "next epoch's first batch", "more": False},
    {"key": "jump", "label": "jump", "help": "next - printed", "more": True},
]


def row_text(reported, level, first=None, epoch=None):
    """One table row's cells, as the server writes them ("-": no value)."""
    return {
        "epoch": "" if epoch is None else str(epoch + 1),
        "printed": f"{reported:.4f}",
        "level_at_end": f"{level:.4f} ± 0.0100",
        "next": "-" if first is None else f"{first:.4f}",
        "jump": "-" if first is None else f"{first - reported:+.4f}",
    }


def epoch_ends(series, evals):
    """The `epoch_ends` of the `jumps` answer, the last epoch included."""
    out = []
    for e in range(EPOCHS):
        last = e * BATCHES + BATCHES - 1
        tail = series["batch_value"][last - 8 : last + 1]
        reported, level = series["running_mean"][last], sum(tail) / len(tail)
        first = series["running_mean"][last + 1] if e < EPOCHS - 1 else None
        out.append(
            {
                "epoch": e,
                "last_step": last + 1,
                "reported": reported,
                "level_at_end": level,
                "text": row_text(reported, level, first, e),
                "lag_stderr": 0.01,
                "train_eval": evals["train_eval"]["value"][e],
                "val": evals["val"]["value"][e],
            }
        )
    return out


def comparison(run, metric):
    """One run's entry of the `compare` answer, from the mock jumps."""
    series = RUNS[run][0][metric]
    evals = {k: v for (m, k), v in RUNS[run][1].items() if m == metric}
    boundaries = jumps(series, evals)
    fields = ("epoch", "jump", "lag", "progress", "lag_share", "mode_gap")
    validation = []
    for e in range(EPOCHS):
        last = e * BATCHES + BATCHES - 1
        reported = series["running_mean"][last]
        level = sum(series["batch_value"][last - 8 : last + 1]) / 9
        te, val = evals["train_eval"]["value"][e], evals["val"]["value"][e]
        gap = val - reported
        better = gap > 0 if metric != "loss" else gap < 0
        validation.append(
            {
                "epoch": e,
                "last_step": last + 1,
                "reported": reported,
                "level_at_end": level,
                "train_eval": te,
                "val": val,
                "val_gap": gap,
                "lag": level - reported,
                "mode_gap": te - level,
                "generalisation_gap": val - te,
                "lag_share": (level - reported) / gap,
                "mode_share": (te - level) / gap,
                "generalisation_share": (val - te) / gap,
                "val_better": better,
                "sentence": f"After epoch {e + 1}, validation ... (mock sentence).",
            }
        )

    def mean(key):
        return sum(b[key] for b in boundaries) / len(boundaries)

    return {
        "run": run,
        "summary": {
            "boundaries": len(boundaries),
            "mean_jump": mean("jump"),
            "mean_lag": mean("lag"),
            "mean_progress": mean("progress"),
            "mean_mode_gap": mean("mode_gap"),
            "lag_share": mean("lag") / mean("jump"),
        },
        "boundaries": [{k: b[k] for k in fields} for b in boundaries],
        "validation": validation,
    }


def finite_json(value):
    """Mimics http_util.Respond: non-finite floats become strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return (
            "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        )
    if isinstance(value, list):
        return [finite_json(v) for v in value]
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    return value


RUNS = {
    "digits": make_run("digits", 1, nan_at=(150, 151)),
    "digits/<b>lr=0.01</b>": make_run("html", 2),
}


class Handler(BaseHTTPRequestHandler):
    empty = False

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/data/plugin_entry.html":
            return self.send(200, ENTRY, "text/html")
        if url.path in ("/", "/index.html"):
            return self.send(
                200,
                '<iframe src="/data/plugin_entry.html?name=epochjump" '
                'style="width:100%;height:95vh;border:0"></iframe>',
                "text/html",
            )
        if not url.path.startswith(PREFIX):
            return self.send(404, "not found", "text/plain")
        route = url.path[len(PREFIX) :]
        if route == "index.js":
            with open(os.path.join(STATIC, "index.js"), encoding="utf-8") as f:
                return self.send(200, f.read(), "text/javascript")
        if route == "runs":
            runs = (
                []
                if self.empty
                else [
                    {
                        "run": name,
                        "metrics": list(m),
                        "epochs": EPOCHS,
                        "batches": EPOCHS * BATCHES,
                        "has_train_eval": True,
                        "has_val": True,
                        "resolution": "batch"
                        if i == 0
                        else "chunks of up to 4 batches (steps_per_execution=4)",
                        "problems": []
                        if i == 0
                        else ["epochjump/x: newer format version 2"],
                    }
                    for i, (name, (m, _)) in enumerate(RUNS.items())
                ]
            )
            return self.json(
                {
                    "runs": runs,
                    "warning": None
                    if self.empty
                    else "--samples_per_plugin limits epochjump; data may be dropped.",
                }
            )
        if route == "compare":
            metric = query.get("metric")
            runs = urllib.parse.parse_qs(url.query).get("run", [])
            unknown = [r for r in runs if r not in RUNS or metric not in RUNS[r][0]]
            if not runs or unknown:
                return self.send(404, f"No epochjump data for {unknown}", "text/plain")
            return self.json(
                {
                    "metric": metric,
                    "higher_is_better": metric != "loss",
                    "estimator": "mock",
                    "runs": [comparison(r, metric) for r in runs],
                }
            )
        run, metric = query.get("run"), query.get("metric")
        if run not in RUNS or metric not in RUNS[run][0]:
            return self.send(404, f"No epochjump data for run {run!r}", "text/plain")
        series, evals = (
            RUNS[run][0][metric],
            {k: v for (m, k), v in RUNS[run][1].items() if m == metric},
        )
        if route == "jumps":
            return self.json(
                {
                    "run": run,
                    "metric": metric,
                    "estimator": "mock",
                    "answer": [
                        "Averaging lag makes up most of the jumps (mock).",
                        "The rest is batch noise (mock).",
                    ],
                    "columns": COLUMNS,
                    "boundaries": jumps(series, evals),
                    "epoch_ends": epoch_ends(series, evals),
                }
            )
        if route == "series":
            start = int(query.get("start", 1))
            end = int(query.get("end", EPOCHS * BATCHES))
            if start > end:
                return self.send(400, f"Bad start/end: {start} > {end}", "text/plain")
            keep = [i for i, s in enumerate(series["step"]) if start <= s <= end]
            def cut(d, idx):
                return {k: [v[i] for i in idx] for k, v in d.items()}
            ev = {
                k: cut(v, [i for i, s in enumerate(v["step"]) if start <= s <= end])
                for k, v in evals.items()
            }
            return self.json(
                {
                    "run": run,
                    "metric": metric,
                    "epoch_starts": [e * BATCHES + 1 for e in range(EPOCHS)],
                    "range": {"start": start, "end": end},
                    "total_batches": len(keep),
                    "downsampled": False,
                    "resolution": "batch",
                    "batches": cut(series, keep),
                    **ev,
                    "learning_rate": {
                        "step": [1, BATCHES + 1],
                        "epoch_fraction": [0.0, 1.0],
                        "value": [0.001, 0.0005],
                    },
                    "fit_starts": {"step": [1], "epoch_fraction": [0.0]},
                }
            )
        if route == "download":
            return self.send(
                200, "step,epoch,wall_time,batch_value,running_mean\n", "text/csv"
            )
        return self.send(404, "no such route", "text/plain")

    def json(self, body):
        self.send(200, json.dumps(finite_json(body)), "application/json")

    def send(self, code, body, mimetype):
        data = body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", mimetype + "; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=6007)
    parser.add_argument("--empty", action="store_true", help="serve no runs")
    args = parser.parse_args()
    Handler.empty = args.empty
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(
        f"http://127.0.0.1:{args.port}/data/plugin_entry.html?name=epochjump",
        flush=True,
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
