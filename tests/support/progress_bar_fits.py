"""What epochjump.ProgressBar prints in real fits, checked against History and
the run EpochJumpCallback writes; run as a script by test_progress_bar.py, one
process per backend (KERAS_BACKEND, or `tf_keras` / `distribute` as argv[1]).
Exits non-zero on failure, prints "exact" at the end on success.

Usage: progress_bar_fits.py MODE WORK_DIR (MODE: keras, tf_keras, distribute).
"""

import contextlib
import io
import math
import os
import re
import sys
import tempfile
import time
import types

MODE, WORK = sys.argv[1], os.path.abspath(sys.argv[2])
if MODE == "distribute":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import epochjump  # noqa: E402
from epochjump.analysis import levels  # noqa: E402
from epochjump.analysis.jumps import epoch_ends  # noqa: E402
from epochjump.analysis.jumps import explained  # noqa: E402
from epochjump.words.answer import answer_lines  # noqa: E402
from support.keras_fits import dense_model  # noqa: E402
from support.keras_fits import digits  # noqa: E402
from support.progress_output import epoch_blocks  # noqa: E402
from support.progress_output import keras_number  # noqa: E402
from support.progress_output import weighted_levels  # noqa: E402

if MODE == "tf_keras":
    import tf_keras as K
else:
    import keras as K

BATCH, N = 32, 400  # 13 batches per epoch, the last one of 16 samples.
x, y = digits(N + 96)
train, val, subset = (x[:N], y[:N]), (x[N:], y[N:]), (x[:64], y[:64])
STRATEGY = None
if MODE == "distribute":
    STRATEGY = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def make_model(steps_per_execution=1):
    with STRATEGY.scope() if STRATEGY else contextlib.nullcontext():
        return dense_model(
            dropout=0.2, keras_module=K, steps_per_execution=steps_per_execution
        )


class Slow(K.callbacks.Callback):
    """Makes each batch take 20 ms, so Keras's bar redraws mid-epoch.

    It sleeps in `on_train_batch_begin`, which Keras always calls on the
    training thread: batch-end hooks of async-safe callbacks run in a thread
    pool, where a sleep would not slow the training loop.
    """

    async_safe = True

    def on_train_batch_begin(self, batch, logs=None):
        time.sleep(0.02)


def fit(model, callbacks, stdout=None, **kwargs):
    """Runs `model.fit`, returning (History.history, what it printed)."""
    out = stdout or io.StringIO()
    with contextlib.redirect_stdout(out):
        history = model.fit(
            *train,
            batch_size=BATCH,
            shuffle=False,
            validation_data=val,
            callbacks=callbacks,
            **kwargs,
        ).history
    return history, out.getvalue() if hasattr(out, "getvalue") else None


def check_block(block, history, index):
    """The epoch's last bar line and the lines below it against History."""
    for metric, value in block.final.items():
        assert value == keras_number(history[metric][index]), (metric, block.final)
    for metric, line in block.lines.items():
        if line.reported is not None:  # The compact line leaves it out.
            assert line.reported == keras_number(history[metric][index]), line
        assert line.val == keras_number(history[f"val_{metric}"][index]), line


def check_against_run(blocks, run, first_epoch=0):
    """Levels, training subset and val printed equal the run's analysis, and
    `explain`'s first line is the bar's line for the epoch it names.

    The bar prints each epoch's level when the epoch ends, from that epoch's
    batches (`levels.level_at_end`); `explain`, which has the next epoch too,
    also fits across the boundary (`boundary.across`): the same words,
    the level within the bar's stated error."""
    for metric in run.metrics:
        series = run[metric]
        first = answer_lines(explained(run, metric))[0]
        said = re.match(
            rf"^{metric} (\S+) is the average over epoch (\d+); the model ended "
            r"it at (\S+)(?: ± (\S+))? \(training mode\)\.$",
            first,
        )
        assert said, first
        (line,) = [b.lines[metric] for b in blocks if b.epoch == int(said[2])]
        assert said[1] == line.reported, (first, line)
        if line.stderr is not None:
            gap = abs(float(said[3]) - float(line.level))
            assert gap <= 1.96 * float(line.stderr) + 1e-4, (first, line)
        ends = epoch_ends(run, metric)
        for block, end in zip(blocks, ends[first_epoch:]):
            line = block.lines[metric]
            at_end = levels.level_at_end(series.batch_value[series.epoch == end.epoch])
            assert line.level == keras_number(at_end.value), (line, at_end)
            if math.isfinite(at_end.stderr):
                assert line.stderr == keras_number(at_end.stderr), (line, at_end)
            if line.train_eval is None:  # Not evaluated: nothing printed.
                assert math.isnan(end.train_eval), (line, end)
            else:
                assert line.train_eval == keras_number(end.train_eval), (line, end)
            assert line.val == keras_number(end.val), (line, end)


def check_live(blocks, run):
    """Every "(now v)" is the weighted level after a batch of its epoch, at
    most the one the bar counts (recomputed here from the run's batches)."""
    shown = 0
    for metric in run.metrics:
        series = run[metric]
        levels = weighted_levels(series.batch_value, epochjump_half_life())
        for block in blocks:
            in_epoch = levels[series.epoch == block.ordinal]
            for count, live in block.live:
                if metric in live:
                    candidates = {keras_number(v) for v in in_epoch[:count]}
                    assert live[metric] in candidates, (metric, count, live)
                    shown += 1
    assert shown, "no live level was shown"


def epochjump_half_life():
    return epochjump.ProgressBar().half_life


def snapshot(*dirs):
    # TensorFlow's AutoGraph caches the tf.data functions it converts (the
    # JAX backend uses tf.data for arrays) with or without epochjump.
    return {
        d: sorted(n for n in os.listdir(d) if not n.startswith("__autograph_"))
        for d in dirs
    }


def main():
    cwd = os.path.join(WORK, "cwd")
    os.makedirs(cwd)
    os.chdir(cwd)
    tmp = tempfile.gettempdir()
    log_dir = os.path.join(WORK, "logs")
    verbose = 2 if STRATEGY else 1

    plain = (
        make_model()
        .fit(
            *train,
            batch_size=BATCH,
            shuffle=False,
            validation_data=val,
            epochs=2,
            verbose=0,
        )
        .history
    )

    # 1. The bar alone, stdout a file: nothing reaches the disk but stdout,
    # and training is unchanged.
    model = make_model()
    before = snapshot(cwd, tmp)
    with open(os.path.join(WORK, "alone.txt"), "w") as out:
        alone, _ = fit(
            model, [epochjump.ProgressBar(), Slow()], out, epochs=2, verbose=verbose
        )
    assert snapshot(cwd, tmp) == before, (before, snapshot(cwd, tmp))
    with open(os.path.join(WORK, "alone.txt")) as out:
        alone_blocks = epoch_blocks(out.read())
    assert alone == plain, (alone, plain)
    assert len(alone_blocks) == 2, alone_blocks
    for i, block in enumerate(alone_blocks):
        check_block(block, alone, i)
        assert all(line.train_eval is None for line in block.lines.values())

    # 2. The same training with EpochJumpCallback first (no training subset,
    # so History stays the same): the levels printed alone are the run's.
    model = make_model()
    callback = epochjump.EpochJumpCallback(os.path.join(log_dir, "plain"))
    history, text = fit(model, [callback, epochjump.ProgressBar()], epochs=2, verbose=2)
    assert history == plain, (history, plain)
    check_against_run(alone_blocks, epochjump.read_run(callback.log_dir))
    for i, block in enumerate(epoch_blocks(text)):
        check_block(block, history, i)
        assert block.lines == alone_blocks[i].lines, (block, alone_blocks[i])

    # 3. EpochJumpCallback after the bar, with a training subset (evaluated
    # after the bar's epoch end): the run's levels, subset and val.
    model = make_model()
    callback = epochjump.EpochJumpCallback(
        os.path.join(log_dir, "second"), train_eval_data=subset
    )
    history, text = fit(
        model, [epochjump.ProgressBar(), callback, Slow()], epochs=2, verbose=verbose
    )
    blocks = epoch_blocks(text)
    run = epochjump.read_run(os.path.join(log_dir, "second"))
    for i, block in enumerate(blocks):
        check_block(block, history, i)
    check_against_run(blocks, run)
    if verbose == 1:
        check_live(blocks, run)

    # 4. Callback first, one line per epoch, several steps per call, a start
    # epoch and a second fit() on the same run.
    # Keras's PyTorch backend runs one step per call only; Keras 3.15's own
    # fit fails with several under MirroredStrategy (has_next in the loop).
    one_step = STRATEGY or (MODE == "keras" and K.backend.backend() == "torch")
    model = make_model(steps_per_execution=1 if one_step else 3)
    callback = epochjump.EpochJumpCallback(
        os.path.join(log_dir, "third"), train_eval_data=subset
    )
    bar = epochjump.ProgressBar()
    first, text1 = fit(model, [callback, bar], epochs=3, initial_epoch=1, verbose=2)
    second, text2 = fit(model, [callback, bar], epochs=4, initial_epoch=3, verbose=2)
    blocks = epoch_blocks(text1) + epoch_blocks(text2)
    assert [b.epoch for b in blocks] == [2, 3, 4], blocks
    for block, (h, i) in zip(blocks, [(first, 0), (first, 1), (second, 0)]):
        check_block(block, h, i)
        assert not block.live
    check_against_run(blocks, epochjump.read_run(os.path.join(log_dir, "third")))
    if STRATEGY:
        print("exact")
        return

    # 5. Notebook-style output (IPython's kernel, a stream with no isatty),
    # one compact line per epoch.
    sys.modules.setdefault("ipykernel", types.ModuleType("ipykernel"))

    class KernelStream:
        def __init__(self):
            self.parts = []

        def write(self, text):
            self.parts.append(text)

        def flush(self):
            pass

        def getvalue(self):
            return "".join(self.parts)

    model = make_model()
    notebook, text = fit(
        model,
        [epochjump.ProgressBar(summary="line"), Slow()],
        KernelStream(),
        epochs=2,
        verbose=1,
    )
    assert notebook == plain
    blocks = epoch_blocks(text)
    for i, block in enumerate(blocks):
        check_block(block, notebook, i)
        for metric, line in block.lines.items():
            assert (line.level, line.stderr) == (
                alone_blocks[i].lines[metric].level,
                alone_blocks[i].lines[metric].stderr,
            )
    print("exact")


if __name__ == "__main__":
    main()
