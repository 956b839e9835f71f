"""`epochjump explain` on a real Keras fit: the answer first, the prose on request.

The numbers the answer quotes are checked against what Keras itself logged
(`History` and the per-batch logs), not against epochjump's analysis.
"""

import math

import keras
import pytest
from support.hand_runs import keras as keras_number
from support.keras_fits import KerasLogRecorder
from support.keras_fits import dense_model
from support.keras_fits import digits

import epochjump
from epochjump import cli

EPOCHS = 3
BATCH_SIZE = 32


@pytest.fixture(scope="module")
def fit(tmp_path_factory):
    """A 3-epoch fit of a small MLP with dropout, recorded by epochjump."""
    x, y = digits(640)
    model = dense_model(dropout=0.3)
    run_dir = tmp_path_factory.mktemp("logs") / "mlp"
    recorder = KerasLogRecorder()
    history = model.fit(
        x[:512],
        y[:512],
        batch_size=BATCH_SIZE,
        epochs=EPOCHS,
        shuffle=False,
        validation_data=(x[512:], y[512:]),
        callbacks=[
            epochjump.EpochJumpCallback(run_dir, train_eval_data=(x[:256], y[:256])),
            recorder,
        ],
        verbose=0,
    ).history
    keras.backend.clear_session()
    per_epoch = 512 // BATCH_SIZE
    return {
        "run_dir": str(run_dir),
        "history": history,
        "first_batches": [recorder.batch_logs[e * per_epoch] for e in range(1, EPOCHS)],
    }


def explain(capsys, *argv):
    code = cli.main(["explain", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_the_first_three_lines_say_what_the_jump_is(fit, capsys):
    code, out, _ = explain(capsys, fit["run_dir"], "--metric", "accuracy")
    assert code == 0
    lines = out.splitlines()
    history = fit["history"]["accuracy"]
    # The boundary with the largest jump, from Keras's own logs: what it
    # printed for the epoch and for the next epoch's first batch.
    firsts = [log["accuracy"] for log in fit["first_batches"]]
    jumps = [firsts[e] - history[e] for e in range(EPOCHS - 1)]
    e = max(range(EPOCHS - 1), key=lambda i: abs(jumps[i]))
    assert lines[0].startswith(
        f"accuracy {keras_number(history[e])} is the average over epoch {e + 1}; "
        "the model ended it at "
    )
    assert lines[0].endswith(" (training mode).")
    assert lines[1].startswith(
        f"Epoch {e + 2} opened at {keras_number(firsts[e])}, a jump of "
        f"{keras_number(jumps[e], '+')}: "
    )
    assert "averaging lag (" in lines[1] or "the averaging lag, " in lines[1]
    assert f"over all {EPOCHS - 1} jumps, " in lines[1]
    assert f" of {keras_number(math.fsum(jumps), '+')} " in lines[1]
    # Then (at most one more answer line) a blank line and the table.
    table_at = lines.index("", 2)
    assert table_at <= 3
    header = lines[table_at + 1].split()
    assert header[:2] == ["epoch", "printed"] and "val" in header
    rows = lines[table_at + 2 : table_at + 2 + EPOCHS]
    val = fit["history"]["val_accuracy"]
    for epoch, row in enumerate(rows):
        cells = row.split()
        assert cells[:2] == [str(epoch + 1), keras_number(history[epoch])]
        assert cells[-1] == keras_number(val[epoch])
    # The prose about each boundary only comes on request; the key comes last.
    assert "- Keras printed" not in out
    assert lines[-1].endswith(")") and "printed: what Keras printed" in out


@pytest.mark.slow
def test_detail_and_epoch_add_the_prose(fit, capsys):
    history = fit["history"]["loss"]
    _, out, _ = explain(capsys, fit["run_dir"], "--metric", "loss", "--detail")
    for e in range(EPOCHS - 1):
        assert f"- Keras printed {keras_number(history[e])} for epoch {e + 1}," in out
    header = [line for line in out.splitlines() if line.startswith("epoch")][0]
    assert "noise SD" in header and "mode gap" in header and "learning rate" in header
    code, out, _ = explain(capsys, fit["run_dir"], "--metric", "loss", "--epoch", "2")
    assert code == 0
    assert f"- Keras printed {keras_number(history[1])} for epoch 2," in out
    assert out.count("- Keras printed") == 1
    code, out, err = explain(capsys, fit["run_dir"], "--epoch", str(EPOCHS))
    assert code == 2 and out == ""
    assert f"No boundary after epoch {EPOCHS} for " in err
    assert f"boundaries after epochs 1 to {EPOCHS - 1}" in err
    assert f"Received: --epoch {EPOCHS}" in err
