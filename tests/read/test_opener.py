"""`read/opener.py`: a run opened from its event files, through TensorBoard's
data provider, or as an outline is one `RunData` whose problems end with those
of its event files; a run that cannot be read, or has no data, is made once."""

import numpy as np
from support import plugin_client
from support.written_runs import PER_CHUNK
from support.written_runs import loss
from support.written_runs import write_chunked_run
from support.written_runs import write_malformed_run
from support.written_runs import write_scalars
from tensorboard import context as tb_context

import epochjump
from epochjump.read import opener
from epochjump.read import provider as provider_io

# A record cut after 5 bytes of its 12-byte header.
TAIL = b"\x00" * 5
# What `write_malformed_run` holds that cannot be used.
LEFT_OUT = (
    "epochjump/epoch_start: 1 of 1 values left out (at step 1, object values are "
    "not numbers)",
    "epochjump/val/loss: 1 of 1 values left out (at step 3, expected 1 value, got 2)",
    "epochjump/mystery: Unreadable epochjump metadata b'<not json>': Expecting "
    "value: line 1 column 1 (char 0)",
)
BAD_CHUNK = (
    "epochjump/batch_value/acc: chunks whose number of values differs from their "
    "number of batches are read as NaN"
)
UNREADABLE_TENSOR = (
    "epochjump/running_mean/acc: could not be read (ValueError: buffer size must "
    "be a multiple of element size)"
)
NOT_LOADED = (
    "TensorBoard has not loaded this run's epochjump data, which its files "
    "hold: it may still be loading, or its Python ingester stopped at a record "
    "that is not an event (named in another run's problems), which stops it for "
    "every run; TensorBoard started with --load_fast=true reads past it"
)


def cut_tail(run_dir):
    """Appends an incomplete record to the run's event file; its problem."""
    (event_file,) = run_dir.iterdir()
    offset = event_file.stat().st_size
    with open(event_file, "ab") as f:
        f.write(TAIL)
    return (
        f"{event_file.name}: incomplete last record ({len(TAIL)} bytes from byte "
        f"{offset}): the file is still being written, or its writer stopped "
        "mid-write; the data before it is shown"
    )


def tensorboard_opener(logdir):
    _, provider = plugin_client.local_provider(logdir)
    return opener.RunOpener(provider, logdir=str(logdir))


def test_each_way_gives_the_run_with_its_file_problems_last(tmp_path):
    write_malformed_run(tmp_path / "bad")
    cut = cut_tail(tmp_path / "bad")
    runs = tensorboard_opener(tmp_path)
    ctx = tb_context.RequestContext()

    from_files = opener.RunOpener().open_dir("bad", str(tmp_path / "bad"))
    through = runs.open(ctx, "", "bad")
    (outline,) = runs.outlines(ctx, "", runs.list_runs(ctx, "")).values()

    for run in (from_files, through, outline.run):
        assert run.name == "bad" and run.metrics == ("loss", "acc")
        assert run["loss"].step.tolist() == [1, 2, 3]
    # Read problems first, then what decoding left out, then the files'.
    assert through.problems == (UNREADABLE_TENSOR, *LEFT_OUT, BAD_CHUNK, cut)
    # The files' own reading finds the tensor that cannot be read.
    assert from_files.problems == (*LEFT_OUT, BAD_CHUNK, cut, UNREADABLE_TENSOR)
    # An outline reads no batch values.
    assert outline.run.problems == (*LEFT_OUT, cut)
    assert from_files["loss"].batch_value.tolist() == [3.0, 2.0, 1.0]
    assert through["loss"].batch_value.tolist() == [3.0, 2.0, 1.0]
    assert np.isnan(outline.run["loss"].batch_value).all()


def test_a_run_of_a_logdir_that_is_not_local_is_read_without_file_checks(tmp_path):
    write_chunked_run(tmp_path / "run", chunks=2)
    cut_tail(tmp_path / "run")
    _, provider = plugin_client.local_provider(tmp_path)
    runs = opener.RunOpener(provider, logdir="gs://bucket/logs")

    run = runs.open(tb_context.RequestContext(), "", "run")

    assert run.problems == ()
    assert run["loss"].step.tolist() == list(range(1, 2 * PER_CHUNK + 1))
    assert run["loss"].batch_value.tolist() == [loss(s) for s in range(1, 9)]
    assert runs.run_dir("run") is None


def test_a_run_that_cannot_be_read_says_why_then_its_file_problems(
    tmp_path, monkeypatch
):
    write_chunked_run(tmp_path / "run", chunks=1)
    cut = cut_tail(tmp_path / "run")
    runs = tensorboard_opener(tmp_path)
    ctx = tb_context.RequestContext()

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(provider_io, "load_run", boom)
    monkeypatch.setattr(provider_io, "decode_outline", boom)
    read = runs.open(ctx, "", "run")
    (outline,) = runs.outlines(ctx, "", runs.list_runs(ctx, "")).values()

    for run in (read, outline.run):
        assert run.name == "run" and run.metrics == () and run.num_batches == 0
        assert run.epoch_starts.tolist() == [] and run.fit_starts.tolist() == []
        assert run.problems == ("Could not read this run: RuntimeError: boom", cut)


def test_runs_tensorboard_lists_without_epochjump_tags_say_why(tmp_path):
    writer = epochjump.Writer(tmp_path / "opened")
    writer.open()  # What the callback does at on_train_begin.
    writer.close()
    cut = cut_tail(tmp_path / "opened")
    write_scalars(tmp_path / "keras_only")
    write_chunked_run(tmp_path / "good", chunks=1)
    runs = tensorboard_opener(tmp_path)

    assert runs.problems_without_data("opened") == (
        "No epochjump data yet: its epochjump event files hold none (training "
        "has not written its first batches, or stopped before it did)",
        cut,
    )
    assert runs.problems_without_data("good") == (NOT_LOADED,)
    assert runs.problems_without_data("keras_only") == ()
    assert runs.problems_without_data("no such run") == ()


def test_run_names_resolve_inside_a_local_logdir_only(tmp_path):
    (tmp_path / "logs" / "good").mkdir(parents=True)
    runs = opener.RunOpener(None, logdir=str(tmp_path / "logs"))

    assert runs.run_dir("good") == str((tmp_path / "logs" / "good").resolve())
    assert runs.run_dir("../logs/good") == runs.run_dir("good")
    assert runs.run_dir(".") == str((tmp_path / "logs").resolve())
    assert runs.run_dir("..") is None
    assert runs.run_dir("/etc") is None
    assert runs.run_dir("no such run") is None
    assert opener.RunOpener(None, logdir=str(tmp_path / "missing")).run_dir(".") is None
