"""Whether the running TensorBoard's ingester can read a logdir URL, in words.

TensorBoard reads a logdir with one of two ingesters, each with its own file
layer. The Rust data server (the default, `--load_fast`) reads local paths
and `gs://` from Google Cloud Storage itself; TensorBoard sends every other
URL to the Python ingester. That one reads through TensorFlow's `gfile` when
TensorFlow is installed (`s3://` only with `tensorflow-io`), and otherwise
through TensorBoard's own: boto3 for `s3://`, fsspec for any other URL. On a
scheme its file layer lacks, TensorBoard does not start, and says why; the
case left for the tab is the Rust data server on an emulated GCS.
"""

import os

from epochjump import storage


def logdir_warning(logdir, data_provider):
    """Why this TensorBoard cannot read `logdir`, or None when it can.

    Args:
      logdir: str or None, TensorBoard's `--logdir`.
      data_provider: the TensorBoard data provider serving it.

    Returns:
      str or None.
    """
    if not logdir or storage.is_local(logdir):
        return None
    if type(data_provider).__name__ == "GrpcDataProvider":
        return _rust_warning(logdir)
    # TensorBoard refuses to start on a URL its Python ingester's file layer
    # has no scheme for, saying so itself ("Unsupported filename scheme").
    return None


def _rust_warning(logdir):
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if logdir.startswith("gs://") and emulator:
        return (
            f"TensorBoard's Rust data server reads {logdir} from Google Cloud "
            f"Storage itself and ignores STORAGE_EMULATOR_HOST={emulator}, so "
            "the runs here may be missing. Restart TensorBoard with "
            "--load_fast=false to read the bucket through fsspec."
        )
    return None
