"""The `epochjump` command: `explain` a run, `export` it, or run the `demo`."""

import argparse
import os
import socket
import sys
import textwrap

import epochjump
from epochjump.analysis import jumps as analysis
from epochjump.read.logdir import Logdir
from epochjump.read.opener import no_data_message
from epochjump.read.opener import read_run
from epochjump.share import export
from epochjump.share.visible import visible
from epochjump.words import answer
from epochjump.words import runs as run_words
from epochjump.words import sentences
from epochjump.words import table


def explain_text(run, metrics=None, detail=False, epoch=None, banner=False):
    """The `explain` report of a run: per metric the answer in at most three
    lines, then the table; the prose per boundary on request; the key last.

    Args:
      run: `RunData`.
      metrics: list of metric names, default all of the run's.
      detail: bool, add every column and the prose about every boundary.
      epoch: int or None, add the prose about the boundary after this epoch
        (numbered as Keras prints it).
      banner: bool, start with a line naming the run (for a logdir of runs).

    Returns:
      str.

    Raises:
      ValueError: for an `epoch` with no boundary after it, naming it.
    """
    about = run_words.run_lines(
        visible(run.name),
        len(run.epoch_starts),
        run.num_batches,
        [visible(problem) for problem in run.problems],
        run.has_train_eval,
    )
    lines = [*about, ""] if banner else []
    shown = table.columns(more=detail)
    for metric in metrics or run.metrics:
        explanation = analysis.explained(run, metric)
        # The words name the metric: shown with its hidden characters escaped.
        lines.extend(visible(line) for line in answer.answer_lines(explanation))
        if explanation.epoch_ends:
            lines.append("")
            lines.append(table.format_table(table.rows_text(explanation), shown))
        chosen = _boundaries(run, explanation, detail, epoch)
        if chosen:
            lines.append("")
            lines.extend(
                _wrap(f"- {visible(sentences.boundary_detail(jump))}", "  ")
                for jump in chosen
            )
        lines.append("")
    if not banner:
        lines.extend([*about, ""])
    lines.append(_wrap(table.key_text(shown, analysis.ESTIMATOR)))
    return "\n".join(lines)


def _boundaries(run, explanation, detail, epoch):
    """The jumps whose prose is asked for: all with `detail`, else the one
    after `epoch`."""
    if detail:
        return explanation.jumps
    if epoch is None:
        return []
    chosen = [jump for jump in explanation.jumps if jump.epoch + 1 == epoch]
    if not chosen:
        after = [jump.epoch + 1 for jump in explanation.jumps]
        which = (
            f"it has boundaries after epochs {after[0]} to {after[-1]}"
            if after
            else "it has no boundary yet"
        )
        raise ValueError(
            f"No boundary after epoch {epoch} for {visible(explanation.metric)} in "
            f"run {visible(run.name)}; --epoch takes an epoch followed by the next "
            f"one: {which}. Received: --epoch {epoch}"
        )
    return chosen


def _wrap(text, indent=""):
    return textwrap.fill(
        text, width=88, subsequent_indent=indent, break_on_hyphens=False
    )


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
        reports.append(
            explain_text(
                run,
                [args.metric] if args.metric else None,
                detail=args.detail,
                epoch=args.epoch,
                banner=len(runs) + len(skipped) > 1,
            )
        )
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
    explain.add_argument(
        "--detail",
        action="store_true",
        help="every column, and a paragraph about every boundary",
    )
    explain.add_argument(
        "--epoch",
        type=int,
        metavar="N",
        help="a paragraph about the boundary after epoch N (as Keras numbers it)",
    )
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
