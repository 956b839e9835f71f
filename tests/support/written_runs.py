"""Runs written for the tests: epochs of given numbers, chunked, malformed, or
another tool's scalars."""

import struct

from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto import summary_pb2
from tensorboard.compat.proto import tensor_pb2
from tensorboard.compat.proto import types_pb2
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.plugins.scalar import summary as scalar_summary
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from tensorboard.util import tensor_util

import epochjump
from epochjump import metadata
from epochjump.read.event_files import masked_crc32c

PER_CHUNK = 4


def loss(step):
    return 1.0 / step


def write_epochs(path, epochs, batches, batch_metrics, epoch_end_evals, weight=1.0):
    """Writes a run of `epochs` epochs of `batches` batches with `Writer`.

    Args:
      path: the run's directory.
      epochs: int, how many epochs.
      batches: int, batches per epoch.
      batch_metrics: function `(epoch, batch)` -> `{metric: value}`, the
        metrics of that batch (both 0-based).
      epoch_end_evals: function `(epoch, last batch's metrics)` ->
        `{kind: {metric: value}}`, the evaluations logged at the epoch's end,
        in that order.
      weight: float, each batch's weight (its samples), default 1.0.
    """
    with epochjump.Writer(path) as writer:
        step = 0
        for epoch in range(epochs):
            writer.start_epoch(step + 1)
            for batch in range(batches):
                step += 1
                values = batch_metrics(epoch, batch)
                writer.log_batch(step, values, weight=weight)
            for kind, evaluated in epoch_end_evals(epoch, values).items():
                writer.log_eval(kind, step, evaluated)


def write_chunked_run(path, chunks=3):
    """Epoch starts at 1 and 5; one chunk (event) of 4 batches per flush.

    Records: file header, epoch start 1, chunk 1-4, epoch start 5, chunk 5-8,
    chunk 9-12, ...
    """
    with epochjump.Writer(path) as writer:
        for chunk in range(chunks):
            steps = range(chunk * PER_CHUNK + 1, (chunk + 1) * PER_CHUNK + 1)
            if steps[0] in (1, 5):
                writer.start_epoch(steps[0])
            for step in steps:
                writer.log_batch(step, {"loss": loss(step)}, {"loss": loss(step)})
            writer.flush()
    (event_file,) = path.iterdir()
    return event_file


def write_scalars(path):
    writer = EventFileWriter(str(path))
    event = event_pb2.Event(step=1, wall_time=1.0)
    # pb() builds TensorFlow's proto class when TensorFlow is installed.
    event.summary.ParseFromString(
        scalar_summary.pb("epoch_loss", 0.5).SerializeToString()
    )
    writer.add_event(event)
    writer.close()


def summary_event(step, wall_time, values):
    """An event of (tag, kind, metric, tensor_proto) values, with metadata."""
    summary = summary_pb2.Summary()
    for tag, kind, metric, tensor in values:
        value = summary.value.add(tag=tag, tensor=tensor)
        if kind is not None:
            value.metadata.CopyFrom(metadata.create_summary_metadata(kind, metric))
    return event_pb2.Event(step=step, wall_time=wall_time, summary=summary)


def tagged(kind, metric, tensor):
    return metadata.tag_for(kind, metric), kind, metric, tensor


def write_malformed_run(path):
    """Good loss batches at steps 1-3, plus series this reader cannot use."""
    make = tensor_util.make_tensor_proto
    broken = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_content=b"abc")
    broken.tensor_shape.dim.add(size=5)
    foreign = summary_pb2.Summary()
    value = foreign.value.add(tag="epochjump/mystery", tensor=make(1.0))
    value.metadata.plugin_data.plugin_name = "epochjump"
    value.metadata.data_class = summary_pb2.DATA_CLASS_TENSOR
    value.metadata.plugin_data.content = b"<not json>"
    chunk = [
        ("batch_times", None, make([0.0, 0.0, 0.0])),
        ("batch_value", "loss", make([3.0, 2.0, 1.0])),
        ("running_mean", "loss", make([3.0, 2.5, 2.0])),
        ("batch_value", "acc", make([0.5, 0.5])),
        ("running_mean", "acc", broken),
        ("batch_steps", None, make([2, 1, 0])),
    ]
    writer = EventFileWriter(str(path), filename_suffix=".epochjump")
    events = [
        summary_event(1, 100.0, [tagged("epoch_start", None, make([b"x"]))]),
        summary_event(3, 101.0, [tagged(*value) for value in chunk]),
        summary_event(3, 102.0, [tagged("val", "loss", make([1.0, 2.0]))]),
        event_pb2.Event(step=3, wall_time=103.0, summary=foreign),
    ]
    for event in events:
        writer.add_event(event)
    writer.close()


def records(event_file):
    """(offset, total size) of each TFRecord, from the length fields alone."""
    data = event_file.read_bytes()
    found, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset : offset + 8])
        found.append((offset, 16 + length))
        offset += 16 + length
    return found


# Framed and checksummed as a TFRecord, but not a TensorBoard event.
NOT_AN_EVENT = b"\xff\xff\xff\xff not a protocol buffer"


def append_record(path, data):
    """Appends one TFRecord with a valid frame and checksums around `data`."""
    header = struct.pack("<Q", len(data))
    record = header + struct.pack("<I", masked_crc32c(header))
    record += data + struct.pack("<I", masked_crc32c(data))
    offset = path.stat().st_size
    with open(path, "ab") as f:
        f.write(record)
    return offset


def not_an_event_problem(name, offset):
    return (
        f"{name}: the record at byte {offset} is intact but its bytes are not a "
        "TensorBoard event (Error parsing message with type 'tensorboard.Event': "
        "Wire format was corrupt); TensorBoard stops reading this run there, so "
        "the data from there on is missing"
    )


def write_versions(run_dir, monkeypatch, newer_first):
    """A run of a file this epochjump reads (steps 1-4) and one of a future
    version 3 (steps 5-8), the file names setting the order TensorBoard reads
    them in."""
    write_chunked_run(run_dir.parent / "v1", chunks=1)
    monkeypatch.setattr(metadata, "version_of", lambda kind: 3)  # A future writer.
    with epochjump.Writer(run_dir.parent / "v2") as writer:
        writer.start_epoch(5)
        for step in range(5, 9):
            writer.log_batch(step, {"loss": loss(step)}, {"loss": loss(step)})
        writer.log_eval("val", 8, {"loss": 0.125})
    monkeypatch.undo()
    run_dir.mkdir()
    names = {"v1": "events.out.tfevents.1.b.epochjump"}
    names["v2"] = f"events.out.tfevents.{0 if newer_first else 2}.b.epochjump"
    for version, name in names.items():
        (written,) = (run_dir.parent / version).iterdir()
        written.rename(run_dir / name)
        (run_dir.parent / version).rmdir()
    return names["v2"]


def write_foreign(path, tag, step, value):
    """Another plugin's (scalars) summary under `tag`, in its own file."""
    writer = EventFileWriter(str(path), filename_suffix=".other")
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=tag,
        tensor=tensor_util.make_tensor_proto(value),
        metadata=scalar_metadata.create_summary_metadata(tag, ""),
    )
    writer.add_event(event_pb2.Event(step=step, wall_time=1e9 + step, summary=summary))
    writer.close()
    (written,) = [p for p in path.iterdir() if p.name.endswith(".other")]
    return written
