"""Loads the Epoch Jump tab into TensorBoard, keeping every epochjump sample.

TensorBoard keeps only a sample of each series of a plugin it does not know
(10 per tag in the Python ingester), which would drop most batch chunks. This
loader asks both ingesters (Python and the Rust data server) to keep all of
them, unless the user chose a limit with `--samples_per_plugin`.
"""

from tensorboard.plugins import base_plugin

from epochjump import metadata


class EpochJumpLoader(base_plugin.TBLoader):
    """Registered as epochjump's `tensorboard_plugins` entry point.

    Attributes:
      set_samples_default: bool, True once `fix_flags` set
        `samples_per_plugin["epochjump"] = 0` itself; False when the user
        chose a value (or `fix_flags` has not run).
    """

    def __init__(self):
        self.set_samples_default = False

    def fix_flags(self, flags):
        """Keeps all epochjump samples unless the user chose a limit.

        Args:
          flags: TensorBoard's parsed flags; `flags.samples_per_plugin` is the
            dict `--samples_per_plugin` was parsed into (`{}` when not given).
        """
        samples = getattr(flags, "samples_per_plugin", None) or {}
        if metadata.PLUGIN_NAME in samples:
            return
        # A copy: the dict may be the caller's own (`configure(**kwargs)`).
        samples = dict(samples)
        samples[metadata.PLUGIN_NAME] = 0  # 0 means "keep all" to both ingesters.
        flags.samples_per_plugin = samples
        self.set_samples_default = True

    def load(self, context):
        """Returns the plugin.

        Args:
          context: A `base_plugin.TBContext`.

        Returns:
          An `EpochJumpPlugin`.
        """
        # Imported here so TensorBoard can import this entry point cheaply.
        from epochjump.serve.plugin import EpochJumpPlugin

        return EpochJumpPlugin(context)
