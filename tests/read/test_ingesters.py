"""The tab's words for a logdir URL the running TensorBoard cannot read."""

from tensorboard.backend.event_processing import data_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.data import grpc_provider

from epochjump.read import ingesters


def python_ingester():
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    return data_provider.MultiplexerDataProvider(multiplexer, "s3://bucket/logs")


def test_local_logdirs_and_the_python_ingester_need_no_words(tmp_path):
    assert ingesters.logdir_warning(str(tmp_path), python_ingester()) is None
    assert ingesters.logdir_warning(None, python_ingester()) is None
    assert ingesters.logdir_warning("gs://bucket/logs", python_ingester()) is None


def test_rust_data_server_says_it_ignores_a_gcs_emulator(monkeypatch):
    rust = grpc_provider.GrpcDataProvider("localhost:0", stub=None)
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    assert ingesters.logdir_warning("gs://bucket/logs", rust) is None
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:4443")
    words = ingesters.logdir_warning("gs://bucket/logs", rust)
    assert words == (
        "TensorBoard's Rust data server reads gs://bucket/logs from Google Cloud "
        "Storage itself and ignores STORAGE_EMULATOR_HOST=http://127.0.0.1:4443, "
        "so the runs here may be missing. Restart TensorBoard with "
        "--load_fast=false to read the bucket through fsspec."
    )
