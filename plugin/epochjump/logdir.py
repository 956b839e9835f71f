"""Opens a local run directory or logdir the way TensorBoard does, for export and plots.

Runs are read through TensorBoard's data provider, as the plugin reads them,
so a report or a picture shows the numbers the tab shows.
"""

import os
import re

from epochjump import metadata
from epochjump import reader


class Logdir:
    """The epochjump runs of one local directory.

    A directory whose only event files are its own is one run, named after
    the directory; otherwise each directory below it holding event files is a
    run named by its path relative to it (`.` for the directory itself), as
    `tensorboard --logdir` names them.

    Args:
      path: str or os.PathLike, a run directory or a logdir.

    Raises:
      FileNotFoundError: if `path` is not a directory.
    """

    def __init__(self, path):
        from tensorboard import context
        from tensorboard.backend.event_processing import data_provider
        from tensorboard.backend.event_processing import plugin_event_multiplexer

        self.path = os.fspath(path)
        run_dirs = [os.path.normpath(d) for d in reader.find_runs(self.path)]
        multiplexer = plugin_event_multiplexer.EventMultiplexer(
            tensor_size_guidance={metadata.PLUGIN_NAME: 0}
        )
        if run_dirs == [os.path.normpath(self.path)]:
            name = os.path.basename(os.path.abspath(self.path))
            multiplexer.AddRun(self.path, name=name)
        else:
            multiplexer.AddRunsFromDirectory(self.path)
        multiplexer.Reload()
        self.provider = data_provider.MultiplexerDataProvider(multiplexer, self.path)
        self.ctx = context.RequestContext()
        self.experiment = ""

    def run_names(self, pattern=None):
        """The names of the runs holding epochjump data, sorted.

        Args:
          pattern: str or None, a regular expression; only runs whose name it
            matches (`re.search`) are listed.

        Returns:
          A list of str.

        Raises:
          ValueError: if `pattern` is not a valid regular expression.
        """
        names = sorted(reader.list_runs(self.provider, self.ctx, self.experiment))
        if pattern is None:
            return names
        try:
            regex = re.compile(pattern)
        except re.error as e:
            raise ValueError(
                f"Bad run pattern: not a regular expression ({e}), got {pattern!r}"
            ) from None
        return [name for name in names if regex.search(name)]

    def load(self, run):
        """Reads one run.

        Args:
          run: str, a name from `run_names()`.

        Returns:
          A `RunData`.

        Raises:
          ValueError: if the run holds no epochjump data.
        """
        data = reader.load_run(self.provider, self.ctx, self.experiment, run)
        if data is None:
            raise ValueError(f"No epochjump data for run {run!r} in {self.path!r}")
        return data

    def plugin(self):
        """The TensorBoard plugin over these runs, to call its `*_impl` methods.

        Returns:
          An `EpochJumpPlugin`.
        """
        from tensorboard.plugins import base_plugin

        from epochjump.plugin import EpochJumpPlugin

        context = base_plugin.TBContext(data_provider=self.provider, flags=None)
        return EpochJumpPlugin(context)
