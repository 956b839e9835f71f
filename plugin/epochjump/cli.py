"""The `epochjump` command: `explain` a run, `export` it, or run the `demo`."""

import argparse
import math
import os
import socket
import sys
import textwrap

import epochjump
from epochjump.analysis import jumps as analysis
from epochjump.analysis import sentences
from epochjump.analysis import wording
from epochjump.read.logdir import Logdir
from epochjump.read.logdir import no_data_message
from epochjump.read.logdir import read_run
from epochjump.share import export
from epochjump.share.visible import visible

# (title, cell) per column; a cell of an epoch's row from its `EpochEnd` and,
# but for the last epoch, its `Jump`. Values as Keras prints them.
_COLUMNS = (
    ("epoch", lambda end, jump: str(end.epoch + 1)),
    ("printed", lambda end, jump: _value(end.reported)),
    ("level at end", lambda end, jump: _error(end.level_at_end, end.lag_stderr)),
    ("next", lambda end, jump: _value(jump.first_next) if jump else "-"),
    ("jump", lambda end, jump: _signed(jump.jump) if jump else "-"),
    ("lag", lambda end, jump: _error(jump.lag, jump.lag_stderr, True) if jump else "-"),
    (
        "step",
        lambda end, jump: (
            _error(jump.boundary_step, jump.boundary_step_stderr, True) if jump else "-"
        ),
    ),
    (
        "noise",
        lambda end, jump: _signed(jump.first_batch_noise) if jump else "-",
    ),
    ("train eval", lambda end, jump: _value(end.train_eval)),
    ("val", lambda end, jump: _value(end.val)),
)


def format_table(ends, jumps):
    """Formats a metric's epochs as an aligned text table, the last one included.

    Args:
      ends: list of `analysis.EpochEnd` (from `epoch_ends`).
      jumps: list of `analysis.Jump` of the same metric.

    Returns:
      str, one header line and one line per epoch (numbered from 1, as Keras
      prints them); the jump columns of an epoch without a next one are "-".
    """
    by_epoch = {jump.epoch: jump for jump in jumps}
    rows = [[title for title, _ in _COLUMNS]]
    for end in ends:
        jump = by_epoch.get(end.epoch)
        rows.append([cell(end, jump) for _, cell in _COLUMNS])
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows
    )


def explain_text(run, metrics=None):
    """The `explain` report of a run: per metric a headline, the answer to
    "why does the next epoch start higher?", the table and a sentence per
    boundary.

    Args:
      run: `RunData`.
      metrics: list of metric names, default all of the run's.

    Returns:
      str.
    """
    lines = [
        f"Run {visible(run.name)}: {len(run.epoch_starts)} epochs, "
        f"{run.num_batches} batches"
    ]
    if not run.has_train_eval:
        lines.append(
            "  (no train_eval recorded: pass train_eval_data= to "
            "EpochJumpCallback to measure the train-vs-inference mode gap)"
        )
    for problem in run.problems:
        lines.append(f"  problem: {visible(problem)}")
    for metric in metrics or run.metrics:
        jumps = analysis.explain(run, metric)
        ends = analysis.epoch_ends(run, metric)
        reported_last = ends[-1].reported if ends else math.nan
        lines.append("")
        lines.append(f"== {visible(metric)} ==")
        # The words name the metric: shown with its hidden characters escaped.
        lines.append(_wrap(visible(sentences.headline(metric, jumps, reported_last))))
        paragraph = visible(sentences.summary_paragraph(metric, jumps))
        if paragraph:
            lines.append("")
            lines.append(_wrap(paragraph))
        if ends:
            lines.append("")
            lines.append(format_table(ends, jumps))
        if jumps:
            lines.append("")
            lines.extend(_wrap(f"- {jump.sentence}", "  ") for jump in jumps)
    lines.append("")
    lines.append(
        _wrap(
            f"({analysis.ESTIMATOR}; next: the next epoch's first batch; "
            "jump = next - printed = lag + step + noise, with step the model's "
            "level just after the boundary - level at end and noise the first "
            "batch's own; "
            "± one standard error; mode gap = train eval - train eval in training mode)"
        )
    )
    return "\n".join(lines)


def _wrap(text, indent=""):
    return textwrap.fill(
        text, width=88, subsequent_indent=indent, break_on_hyphens=False
    )


def _value(value):
    return "-" if math.isnan(value) else wording.keras_value(value)


def _signed(value):
    return "-" if math.isnan(value) else wording.signed(value)


def _error(value, stderr, sign=False):
    return "-" if math.isnan(value) else wording.with_error(value, stderr, sign)


def _explain(args):
    logdir = Logdir(args.run_dir)
    runs = [logdir.load(name) for name in logdir.run_names()]
    skipped = [
        f"Run {visible(name)}: {visible(why)}"
        for name, why in logdir.runs_without_data().items()
    ]
    if not runs:
        raise ValueError(
            "\n".join(logdir.runs_without_data().values())
            or no_data_message(args.run_dir)
        )
    reports = []
    for run in runs:
        if args.metric and args.metric not in run:
            raise SystemExit(
                f"epochjump: no metric {args.metric!r} in run {run.name!r}; "
                f"it has {', '.join(map(visible, run.metrics))}"
            )
        reports.append(explain_text(run, [args.metric] if args.metric else None))
    print("\n\n".join(reports + skipped))


def _export(args):
    try:
        exported = export.export(
            args.path,
            args.output,
            metrics=args.metric,
            run=args.run,
            max_points=args.max_points,
            dpi=args.dpi,
        )
    except ImportError as e:
        raise SystemExit(f"epochjump: {e}") from None
    count = sum(len(metrics) for metrics in exported.values())
    print(
        f"Wrote {args.output}: {len(exported)} run(s), {count} chart(s) "
        f"({', '.join(map(visible, exported))})"
    )


def _demo(args):
    from epochjump import demo

    print(f"Training the demo model on scikit-learn's digits into {args.logdir} ...")
    run_dir = demo.train_demo(args.logdir, epochs=args.epochs)
    print(explain_text(read_run(run_dir)))
    if args.no_serve:
        return
    from tensorboard import program

    port = args.port or _free_port()
    board = program.TensorBoard()
    board.configure(
        argv=[None, "--logdir", args.logdir, "--port", str(port), "--host", args.host]
    )
    url = board.launch()
    print(f"\nTensorBoard with the Epoch Jump tab: {url}#epochjump")
    print("Press Ctrl-C to stop.")
    try:
        import time

        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_parser():
    """The argument parser of the `epochjump` command."""
    parser = argparse.ArgumentParser(
        prog="epochjump",
        description="See why Keras metrics jump between epochs.",
    )
    parser.add_argument(
        "--version", action="version", version=f"epochjump {epochjump.__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    explain = commands.add_parser(
        "explain", help="explain every epoch-boundary jump of a run"
    )
    explain.add_argument("run_dir", help="a run directory, or a logdir of runs")
    explain.add_argument("--metric", help="only this metric (e.g. accuracy)")
    explain.set_defaults(handler=_explain)
    export_parser = commands.add_parser(
        "export",
        help="write runs as one HTML report (opens offline) or a PNG/SVG picture",
    )
    export_parser.add_argument(
        "path", metavar="LOGDIR_OR_RUN", help="a run directory, or a logdir of runs"
    )
    export_parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="the file to write; its extension picks the format: .html, .png, .svg",
    )
    export_parser.add_argument(
        "--metric",
        action="append",
        help="only this metric (e.g. accuracy); repeat for several",
    )
    export_parser.add_argument(
        "--run", help="only runs whose name matches this regular expression"
    )
    export_parser.add_argument(
        "--max-points",
        type=int,
        default=export.DEFAULT_MAX_POINTS,
        help="HTML: batch points kept per series, full resolution up to this "
        f"(default: {export.DEFAULT_MAX_POINTS})",
    )
    export_parser.add_argument(
        "--dpi",
        type=int,
        default=export.DEFAULT_DPI,
        help=f"PNG: pixels per inch (default: {export.DEFAULT_DPI})",
    )
    export_parser.set_defaults(handler=_export)
    demo_parser = commands.add_parser(
        "demo", help="train a small model on the digits data, then open TensorBoard"
    )
    demo_parser.add_argument("--logdir", default=os.path.join("logs", "demo"))
    demo_parser.add_argument("--epochs", type=int, default=6)
    demo_parser.add_argument(
        "--port", type=int, default=0, help="TensorBoard port (default: a free one)"
    )
    demo_parser.add_argument("--host", default="localhost")
    demo_parser.add_argument(
        "--no-serve",
        action="store_true",
        help="only write the logs and print the explanation",
    )
    demo_parser.set_defaults(handler=_demo)
    return parser


def main(argv=None):
    """Entry point of the `epochjump` console script."""
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (OSError, ValueError) as e:  # OSError: also an unreachable bucket.
        print(f"epochjump: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
