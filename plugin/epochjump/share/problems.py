"""Says on stderr what could not be read, for the exports and pictures."""

import sys

from epochjump.share.visible import visible


def print_problems(runs, runs_without_data=None, file=None):
    """Prints each run's problems, one line each, as `epochjump explain` lists them.

    Args:
      runs: iterable of `RunData`.
      runs_without_data: dict from run name to why it has no data, or None.
      file: a text stream, default `sys.stderr`.
    """
    file = sys.stderr if file is None else file
    for run in runs:
        for problem in run.problems:
            print(
                f"epochjump: run {visible(run.name)}: problem: {visible(problem)}",
                file=file,
            )
    for name, why in (runs_without_data or {}).items():
        print(f"epochjump: run {visible(name)} skipped: {visible(why)}", file=file)
