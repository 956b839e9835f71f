"""The epochjump HTTP routes, served the way TensorBoard serves them.

Like TensorBoard's `scalars_plugin_test.py`: real event files in a temporary
logdir, a data provider over an `EventMultiplexer`, the plugin inside
`application.TensorBoardWSGI` and a werkzeug test client. Expected answers
are computed here from the values written, not by epochjump's reader.
"""

import argparse
import csv
import io
import json
import math
import threading
import urllib.parse

import numpy as np
import pytest
from support import plugin_client
from support.plugin_client import CountingLoads
from support.plugin_client import as_json
from tensorboard import context as tb_context
from tensorboard.backend import application
from tensorboard.plugins import base_plugin
from werkzeug import test as werkzeug_test

import epochjump
from epochjump.analysis import boundary as level_estimates
from epochjump.analysis import jumps
from epochjump.analysis import levels
from epochjump.read.opener import RunOpener
from epochjump.serve import plugin as plugin_module
from epochjump.serve import run_cache

PREFIX = "/data/plugin/epochjump"
# Batch wall times are explicit so the answers are exact: far from the time
# of writing, they are stored as float64 offsets, without rounding.
T0 = 2_000_000_000.0
EPOCH_LENGTH = 10
EPOCHS = 3
STEPS = list(range(1, EPOCH_LENGTH * EPOCHS + 1))
VAL_LOSS = [1.5, 1.25, 1.125]
TRAIN_EVAL_LOSS = [0.9, 0.8, 0.7]
TRAINING_MODE_LOSS = [0.95, 0.875, 0.71]  # The subset in training mode.
LEARNING_RATES = {1: 0.1, 21: 0.05}  # From step on.
VAL_ACCURACY = [0.25, 0.5, math.inf]
ODD_RUN = "odd <b>\"run\"</b> & 'ünïcødé' ✓"
NESTED_RUN = "group/sub run"
BIG_BATCHES_PER_EPOCH = 5000
BIG_STEPS = np.arange(1, 3 * BIG_BATCHES_PER_EPOCH + 1)
SPIKE_STEP = 7777
BIG_VALUES = np.where(BIG_STEPS == SPIKE_STEP, 99.0, np.cos(BIG_STEPS / 300.0))


def epoch_of(step):
    return (step - 1) // EPOCH_LENGTH


def loss_value(step):
    return 2.0 / step + 0.01 * (step % 3)


def accuracy_value(step):
    return {5: math.nan, 15: math.inf, 16: -math.inf}.get(step, step / 40.0)


def running_means(values_by_step):
    """Keras-style running means: the epoch's mean so far, summed in order."""
    means, total, count = {}, 0.0, 0
    for step, value in values_by_step.items():
        if (step - 1) % EPOCH_LENGTH == 0:
            total, count = 0.0, 0
        total += value
        count += 1
        means[step] = total / count
    return means


LOSS = {s: loss_value(s) for s in STEPS}
ACCURACY = {s: accuracy_value(s) for s in STEPS}
LOSS_MEAN = running_means(LOSS)
ACCURACY_MEAN = running_means(ACCURACY)


def write_known_run(log_dir):
    """3 epochs of 10 batches, flushed in chunks of 4, with evaluations."""
    with epochjump.Writer(log_dir) as writer:
        for step in STEPS:
            epoch = epoch_of(step)
            if (step - 1) % EPOCH_LENGTH == 0:
                writer.start_epoch(step)
                writer.log_learning_rate(step, LEARNING_RATES.get(step, 0.1))
            writer.log_batch(
                step,
                {"loss": LOSS[step], "accuracy": ACCURACY[step]},
                running_means={
                    "loss": LOSS_MEAN[step],
                    "accuracy": ACCURACY_MEAN[step],
                },
                wall_time=T0 + 0.5 * step,
            )
            if step % 4 == 0:
                writer.flush()
            if step % EPOCH_LENGTH == 0:
                writer.log_eval(
                    "val",
                    step,
                    {"loss": VAL_LOSS[epoch], "accuracy": VAL_ACCURACY[epoch]},
                )
                writer.log_eval("train_eval", step, {"loss": TRAIN_EVAL_LOSS[epoch]})
                writer.log_eval(
                    "train_eval_training_mode",
                    step,
                    {"loss": TRAINING_MODE_LOSS[epoch]},
                )


def write_small_run(log_dir):
    with epochjump.Writer(log_dir) as writer:
        writer.start_epoch(1)
        for step in (1, 2, 3):
            writer.log_batch(step, {"loss": 1.0 / step}, wall_time=T0 + step)


def write_evals_only_run(log_dir):
    with epochjump.Writer(log_dir) as writer:
        writer.log_eval("val", 7, {"loss": 0.5})


def write_big_run(log_dir):
    """3 epochs of 5000 batches with one spike, written with log_batches."""
    with epochjump.Writer(log_dir) as writer:
        for epoch in range(3):
            steps = BIG_STEPS[(BIG_STEPS - 1) // BIG_BATCHES_PER_EPOCH == epoch]
            writer.start_epoch(int(steps[0]))
            values = BIG_VALUES[steps - 1]
            writer.log_batches(steps, {"loss": values}, {"loss": values}, T0 + steps)


def fit_keras_run(log_dir):
    """A real `model.fit`: 2 epochs of 8 equal batches, val and train_eval."""
    import keras

    class KerasLogs(keras.callbacks.Callback):
        """What Keras itself reports at each batch: the running means."""

        def __init__(self):
            super().__init__()
            self.batch_logs = []

        def on_train_batch_end(self, batch, logs=None):
            self.batch_logs.append(dict(logs))

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(320, 8)).astype("float32")
    y = (x[:, :4].sum(axis=1) > 0).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        keras.optimizers.SGD(0.1), "binary_crossentropy", metrics=["accuracy"]
    )
    logs = KerasLogs()
    train_eval = (x[:64], y[:64])
    history = model.fit(
        x[:256],
        y[:256],
        batch_size=32,
        epochs=2,
        shuffle=False,
        verbose=0,
        validation_data=(x[256:], y[256:]),
        callbacks=[
            epochjump.EpochJumpCallback(log_dir, train_eval_data=train_eval),
            logs,
        ],
    )
    final_train_eval = model.evaluate(*train_eval, verbose=0, return_dict=True)
    return {
        "batch_logs": logs.batch_logs,
        "history": history.history,
        "final_train_eval": final_train_eval,
    }


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    write_known_run(root / "known")
    write_small_run(root / ODD_RUN)
    write_small_run(root / "group" / "sub run")
    write_big_run(root / "big")
    write_evals_only_run(root / "evals only")
    return root


@pytest.fixture(scope="module")
def keras_fit(logdir):
    return fit_keras_run(logdir / "keras")


def make_client(provider, samples_per_plugin=None):
    """The plugin loaded the way TensorBoard loads it, behind its WSGI app."""
    plugin = plugin_client.load_plugin(provider, samples_per_plugin=samples_per_plugin)
    return plugin_client.client_for(plugin, provider)


@pytest.fixture(scope="module")
def client(logdir, keras_fit):
    _, provider = plugin_client.local_provider(logdir)
    return make_client(provider)


def get_json(client, route, **params):
    response = client.get(PREFIX + route, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return json.loads(response.get_data(as_text=True))


def from_json(value):
    return float(value) if isinstance(value, str) else value


def epoch_fraction(step):
    epoch = epoch_of(step)
    return epoch + (step - (1 + EPOCH_LENGTH * epoch) + 1) / EPOCH_LENGTH


def expected_series(
    metric, steps, batch_values, means, val, train_eval, training_mode=()
):
    evals = {
        "val": val,
        "train_eval": train_eval,
        "train_eval_training_mode": training_mode,
    }
    answer = {
        "run": "known",
        "metric": metric,
        "epoch_starts": [1, 11, 21],
        "range": {"start": steps[0], "end": steps[-1]},
        "total_batches": len(steps),
        "downsampled": False,
        "resolution": "batch",
        "batches": {
            "step": steps,
            "epoch": [epoch_of(s) for s in steps],
            "epoch_fraction": [epoch_fraction(s) for s in steps],
            "wall_time": [T0 + 0.5 * s for s in steps],
            "batch_value": [as_json(batch_values[s]) for s in steps],
            "running_mean": [as_json(means[s]) for s in steps],
        },
        # 0.1 from step 1, halved from step 21, the first batch of epoch 3:
        # a mark sits where its batch begins, at the epoch line x = 2. The
        # writer was given no fit start.
        "learning_rate": {
            "step": [1, 21],
            "epoch_fraction": [0.0, 2.0],
            "value": [0.1, 0.05],
        },
        "fit_starts": {"step": [], "epoch_fraction": []},
    }
    for kind, values in evals.items():
        eval_steps = [10 * (e + 1) for e in range(len(values)) if values[e] is not None]
        eval_steps = [s for s in eval_steps if steps[0] <= s <= steps[-1]]
        answer[kind] = {
            "step": eval_steps,
            "epoch": [epoch_of(s) for s in eval_steps],
            "epoch_fraction": [float(epoch_of(s) + 1) for s in eval_steps],
            "value": [as_json(values[epoch_of(s)]) for s in eval_steps],
        }
    return answer


def drop_eval_wall_times(answer):
    """Evaluations are stamped with the time they were logged: check them
    loosely, and return the answer without them."""
    for kind in ("val", "train_eval", "train_eval_training_mode"):
        wall_times = answer[kind].pop("wall_time")
        assert len(wall_times) == len(answer[kind]["step"])
        assert all(1.7e9 < t < T0 for t in wall_times)
    return answer


def test_plugins_listing_names_the_tab(client):
    listing = json.loads(client.get("/data/plugins_listing").get_data(as_text=True))
    assert listing["epochjump"]["enabled"] is True
    assert listing["epochjump"]["tab_name"] == "Epoch Jump"
    assert listing["epochjump"]["loading_mechanism"] == {
        "type": "IFRAME",
        "module_path": "/data/plugin/epochjump/index.js",
    }


def test_runs(client, keras_fit):
    answer = get_json(client, "/runs")

    assert answer["warning"] is None
    runs = {r["run"]: r for r in answer["runs"]}
    assert [r["run"] for r in answer["runs"]] == sorted(runs)
    assert set(runs) == {"known", "big", "keras", "evals only", ODD_RUN, NESTED_RUN}
    assert runs["known"] == {
        "run": "known",
        "metrics": ["loss", "accuracy"],
        "epochs": 3,
        "batches": 30,
        "has_train_eval": True,
        "has_val": True,
        "resolution": "batch",
        "problems": [],
    }
    assert runs[ODD_RUN]["batches"] == 3
    assert runs[NESTED_RUN]["metrics"] == ["loss"]
    assert runs["big"]["batches"] == 3 * BIG_BATCHES_PER_EPOCH
    assert runs["evals only"]["epochs"] == 0 and runs["evals only"]["has_val"]
    assert runs["keras"] == {
        "run": "keras",
        "metrics": ["loss", "accuracy"],
        "epochs": 2,
        "batches": len(keras_fit["batch_logs"]),
        "has_train_eval": True,
        "has_val": True,
        "resolution": "batch",
        "problems": [],
    }


def test_series_whole_run(client):
    answer = get_json(client, "/series", run="known", metric="accuracy")
    expected = expected_series(
        "accuracy", STEPS, ACCURACY, ACCURACY_MEAN, VAL_ACCURACY, [None] * 3
    )
    assert drop_eval_wall_times(answer) == expected


def test_series_nan_and_inf_travel_as_strings(client):
    response = client.get(PREFIX + "/series?run=known&metric=accuracy")
    text = response.get_data(as_text=True)
    values = json.loads(text)["batches"]["batch_value"]
    assert values[4] == "NaN" and values[14] == "Infinity" and values[15] == "-Infinity"
    assert "NaN," not in text.replace('"NaN",', "")  # never a bare NaN token
    assert json.loads(text)["val"]["value"][2] == "Infinity"


def test_series_range(client):
    answer = get_json(client, "/series", run="known", metric="loss", start=12, end=25)
    steps = list(range(12, 26))
    expected = expected_series(
        "loss", steps, LOSS, LOSS_MEAN, VAL_LOSS, TRAIN_EVAL_LOSS, TRAINING_MODE_LOSS
    )
    assert drop_eval_wall_times(answer) == expected
    assert answer["batches"]["epoch_fraction"][0] == 1.2


def test_series_range_outside_the_data(client):
    answer = get_json(
        client, "/series", run="known", metric="loss", start=1000, end=2000
    )
    assert answer["range"] == {"start": 1000, "end": 2000}
    assert answer["total_batches"] == 0
    assert answer["batches"]["step"] == []
    assert answer["val"]["step"] == []


def test_series_of_a_run_without_batches(client):
    answer = get_json(client, "/series", run="evals only", metric="loss")
    assert answer["range"] == {"start": None, "end": None}
    assert answer["total_batches"] == 0
    assert answer["epoch_starts"] == []
    assert answer["batches"]["step"] == []
    assert answer["val"]["step"] == [7]
    assert answer["val"]["epoch_fraction"] == [1.0]
    assert answer["val"]["value"] == [0.5]
    assert (
        get_json(client, "/jumps", run="evals only", metric="loss")["boundaries"] == []
    )


def test_series_downsampled_keeps_epoch_ends_and_spike(client):
    answer = get_json(client, "/series", run="big", metric="loss", max_points=100)

    batches = answer["batches"]
    assert answer["downsampled"] is True
    assert answer["total_batches"] == 3 * BIG_BATCHES_PER_EPOCH
    assert len(batches["step"]) <= 100
    assert batches["step"] == sorted(set(batches["step"]))
    n = BIG_BATCHES_PER_EPOCH
    assert {1, n, n + 1, 2 * n, 2 * n + 1, 3 * n} <= set(batches["step"])
    spike = batches["step"].index(SPIKE_STEP)
    assert batches["batch_value"][spike] == 99.0
    expected = BIG_VALUES[np.array(batches["step"]) - 1].tolist()
    assert batches["batch_value"] == expected
    assert batches["running_mean"] == expected
    assert batches["epoch_fraction"][-1] == 3.0


def test_series_zoom_gives_full_resolution(client):
    answer = get_json(client, "/series", run="big", metric="loss", start=7000, end=7999)
    assert answer["downsampled"] is False
    assert answer["batches"]["step"] == list(range(7000, 8000))


def test_series_of_a_keras_fit_matches_what_keras_reported(client, keras_fit):
    loss = get_json(client, "/series", run="keras", metric="loss")
    accuracy = get_json(client, "/series", run="keras", metric="accuracy")

    logs = keras_fit["batch_logs"]
    per_epoch = len(logs) // 2
    assert loss["epoch_starts"] == [1, per_epoch + 1]
    assert loss["batches"]["step"] == list(range(1, len(logs) + 1))
    for name, answer in (("loss", loss), ("accuracy", accuracy)):
        batches = answer["batches"]
        keras_means = [log[name] for log in logs]
        assert batches["running_mean"] == pytest.approx(keras_means, rel=1e-6)
        for epoch in range(2):
            values = batches["batch_value"][epoch * per_epoch : (epoch + 1) * per_epoch]
            # Equal batches: the running mean is the plain mean so far, and
            # the first batch of an epoch is its own running mean.
            means = np.cumsum(values) / np.arange(1, per_epoch + 1)
            assert means == pytest.approx(
                keras_means[epoch * per_epoch : (epoch + 1) * per_epoch], rel=1e-5
            )
        assert answer["val"]["value"] == pytest.approx(
            keras_fit["history"]["val_" + name], rel=1e-6
        )
        assert answer["val"]["step"] == [per_epoch, 2 * per_epoch]
        assert answer["train_eval"]["value"][-1] == pytest.approx(
            keras_fit["final_train_eval"][name], rel=1e-5
        )


def test_jumps(client):
    answer = get_json(client, "/jumps", run="known", metric="loss")

    assert answer["run"] == "known" and answer["metric"] == "loss"
    assert answer["estimator"] == jumps.ESTIMATOR
    assert len(answer["boundaries"]) == EPOCHS - 1
    for epoch, boundary in enumerate(answer["boundaries"]):
        last, first_next = 10 * (epoch + 1), 10 * (epoch + 1) + 1
        reported = LOSS_MEAN[last]
        # The levels at the edges come from `boundary` and `levels` (tested
        # against a known truth in tests/analysis).
        after_values = [LOSS[s] for s in range(first_next, first_next + 10)]
        end, after, step_stderr = level_estimates.across(
            [LOSS[s] for s in range(last - 9, last + 1)], after_values
        )
        assert after == levels.level_at_start(after_values)
        level = end.value
        jump = LOSS_MEAN[first_next] - reported
        lag = level - reported
        text = boundary.pop("text")
        detail = boundary.pop("detail")
        assert boundary.pop("level_after_text") == (
            f"{keras(after.value)} ± {keras(after.stderr)}"
        )
        assert boundary == {
            "epoch": epoch,
            "last_step": last,
            "first_next_step": first_next,
            "level_batches": end.window,
            "reported": reported,
            "level_at_end": level,
            "first_next": LOSS_MEAN[first_next],
            "jump": jump,
            "lag": lag,
            "progress": LOSS_MEAN[first_next] - level,
            "train_eval": TRAIN_EVAL_LOSS[epoch],
            "mode_gap": TRAIN_EVAL_LOSS[epoch] - TRAINING_MODE_LOSS[epoch],
            "train_eval_training_mode": TRAINING_MODE_LOSS[epoch],
            "learning_rate_before": 0.1,
            "learning_rate_after": 0.1 if epoch == 0 else 0.05,
            "learning_rate_scheduled": False,
            "val": VAL_LOSS[epoch],
            "lag_share": lag / jump,
            "lag_stderr": end.stderr,
            "level_after": after.value,
            "level_after_stderr": after.stderr,
            "boundary_step": after.value - level,
            "boundary_step_stderr": step_stderr,
            "first_batch_noise": LOSS_MEAN[first_next] - after.value,
            "noise_sd": math.sqrt((end.noise_sd**2 + after.noise_sd**2) / 2),
        }
        # Each cell as Keras prints it, written here with Python's formatting.
        step = after.value - level
        assert text == {
            "epoch": str(epoch + 1),
            "printed": keras(reported),
            "level_at_end": f"{keras(level)} ± {keras(end.stderr)}",
            "next": keras(LOSS_MEAN[first_next]),
            "jump": keras(jump, "+"),
            "lag": f"{keras(lag, '+')} ± {keras(end.stderr)}",
            "rest": keras(LOSS_MEAN[first_next] - level, "+"),
            "step": f"{keras(step, '+')} ± {keras(step_stderr)}",
            "noise": keras(LOSS_MEAN[first_next] - after.value, "+"),
            "noise_sd": keras(math.sqrt((end.noise_sd**2 + after.noise_sd**2) / 2)),
            "train_eval": keras(TRAIN_EVAL_LOSS[epoch]),
            "mode_gap": keras(TRAIN_EVAL_LOSS[epoch] - TRAINING_MODE_LOSS[epoch], "+"),
            "val": keras(VAL_LOSS[epoch]),
            "learning_rate": "0.1" if epoch == 0 else "0.1 → 0.05",
        }
        assert answer["epoch_ends"][epoch]["text"] == text
        assert detail.startswith(
            f"Keras printed {reported:.4f} for epoch {epoch + 1}, the mean over "
            f"all its batches; the model's level at the epoch's end was "
            f"{level:.4f} ± {end.stderr:.4f}, and epoch {epoch + 2} opened at "
            f"{keras(LOSS_MEAN[first_next])}, a jump of {keras(jump, '+')}."
        )
    last = answer["epoch_ends"][-1]
    assert [e["epoch"] for e in answer["epoch_ends"]] == list(range(EPOCHS))
    assert last["val"] == VAL_LOSS[EPOCHS - 1]
    final_end = levels.level_at_end([LOSS[s] for s in range(21, 31)])
    assert last["text"] == {
        "epoch": str(EPOCHS),
        "printed": keras(LOSS_MEAN[30]),
        "level_at_end": f"{keras(final_end.value)} ± {keras(final_end.stderr)}",
        **{key: "-" for key in ("next", "jump", "lag", "rest", "step", "noise")},
        "noise_sd": "-",
        "train_eval": keras(TRAIN_EVAL_LOSS[-1]),
        "mode_gap": keras(TRAIN_EVAL_LOSS[-1] - TRAINING_MODE_LOSS[-1], "+"),
        "val": keras(VAL_LOSS[-1]),
        "learning_rate": "-",
    }
    assert [c["key"] for c in answer["columns"]] == list(text)
    assert all(c["label"] and c["help"] for c in answer["columns"])
    assert "headline" not in answer and "summary_paragraph" not in answer
    # The answer: what the printed number is for the epoch before the largest
    # jump, then that jump and its lag, then the rest.
    biggest = max(range(EPOCHS - 1), key=lambda e: abs(answer["boundaries"][e]["jump"]))
    b = answer["boundaries"][biggest]
    assert 2 <= len(answer["answer"]) <= 3
    assert answer["answer"][0] == (
        f"loss {keras(b['reported'])} is the average over epoch {biggest + 1}; the "
        f"model ended it at {keras(b['level_at_end'])} ± {keras(b['lag_stderr'])} "
        "(training mode)."
    )
    total_jump = math.fsum(x["jump"] for x in answer["boundaries"])
    total_lag = math.fsum(x["lag"] for x in answer["boundaries"])
    total_stderr = math.sqrt(
        math.fsum(x["lag_stderr"] ** 2 for x in answer["boundaries"])
    )
    assert answer["answer"][1].startswith(
        f"Epoch {biggest + 2} opened at {keras(b['first_next'])}, a jump of "
        f"{keras(b['jump'], '+')}: "
    )
    assert answer["answer"][1].endswith(
        f"; over all {EPOCHS - 1} jumps, {keras(total_lag, '+')} ± "
        f"{keras(total_stderr)} of {keras(total_jump, '+')} "
        f"({round(100 * total_lag / total_jump)}%) is lag."
    )


def keras(value, sign=""):
    """As Keras's progress bar prints a value (`keras.utils.Progbar`)."""
    return f"{value:{sign}.4f}" if abs(value) > 1e-3 else f"{value:{sign}.4e}"


def test_jumps_without_train_eval_are_nan_strings(client):
    answer = get_json(client, "/jumps", run="known", metric="accuracy")
    first = answer["boundaries"][0]
    assert first["train_eval"] == "NaN" and first["mode_gap"] == "NaN"
    assert first["val"] == 0.25


def test_download_csv(client):
    response = client.get(PREFIX + "/download?run=known&metric=accuracy&format=csv")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="known-accuracy.csv"; '
        "filename*=UTF-8''known-accuracy.csv"
    )
    lines = ["step,epoch,wall_time,batch_value,running_mean"]
    for s in STEPS:
        row = (s, epoch_of(s), T0 + 0.5 * s, ACCURACY[s], ACCURACY_MEAN[s])
        lines.append(",".join(repr(value) for value in row))
    assert response.get_data(as_text=True) == "\n".join(lines) + "\n"
    assert "nan" in lines[5] and "inf" in lines[15] and "-inf" in lines[16]


def test_download_json_is_the_full_series(client):
    response = client.get(PREFIX + "/download?run=big&metric=loss&format=json")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert 'filename="big-loss.json"' in response.headers["Content-Disposition"]
    answer = json.loads(response.get_data(as_text=True))
    assert answer["downsampled"] is False
    assert answer["batches"]["step"] == list(range(1, 3 * BIG_BATCHES_PER_EPOCH + 1))


def test_odd_run_names(client):
    for run in (ODD_RUN, NESTED_RUN):
        answer = get_json(client, "/series", run=run, metric="loss")
        assert answer["run"] == run
        assert answer["batches"]["batch_value"] == [1.0, 0.5, 1.0 / 3]

    response = client.get(
        PREFIX + "/download",
        query_string={"run": ODD_RUN, "metric": "loss", "format": "csv"},
    )
    disposition = response.headers["Content-Disposition"]
    assert disposition.isascii()
    fallback = disposition.split('filename="')[1].split('"')[0]
    assert all(c.isalnum() or c in "._-" for c in fallback)
    encoded = disposition.split("filename*=UTF-8''")[1]
    # "/" (here from "</b>", a subdirectory) cannot be in a file name.
    assert urllib.parse.unquote(encoded) == ODD_RUN.replace("/", "_") + "-loss.csv"
    nested = client.get(
        PREFIX + "/download",
        query_string={"run": NESTED_RUN, "metric": "loss", "format": "csv"},
    )
    assert 'filename="group_sub_run-loss.csv"' in nested.headers["Content-Disposition"]


def test_unknown_run_with_html_is_plain_text_404(client):
    response = client.get(
        PREFIX + "/series", query_string={"run": "<script>x</script>", "metric": "loss"}
    )
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_data(as_text=True) == (
        "Not found: No epochjump data for run '<script>x</script>'"
    )


@pytest.mark.parametrize(
    "route, params, message",
    [
        ("/series", {"metric": "loss"}, "Missing run: expected a run name"),
        ("/series", {"run": "known"}, "Missing metric: expected a metric name"),
        (
            "/series",
            {"run": "", "metric": "loss"},
            "Bad run: expected a run name, got ''",
        ),
        ("/jumps", {"run": "known"}, "Missing metric"),
        (
            "/series",
            {"run": "known", "metric": "loss", "max_points": "-1"},
            "Bad max_points: expected an integer from 2 to 100000, got '-1'",
        ),
        ("/series", {"run": "known", "metric": "loss", "max_points": "1"}, "got '1'"),
        (
            "/series",
            {"run": "known", "metric": "loss", "max_points": "100001"},
            "got '100001'",
        ),
        (
            "/series",
            {"run": "known", "metric": "loss", "max_points": "2e3"},
            "got '2e3'",
        ),
        ("/series", {"run": "known", "metric": "loss", "max_points": ""}, "got ''"),
        ("/series", {"run": "known", "metric": "loss", "max_points": " 5"}, "got ' 5'"),
        (
            "/series",
            {"run": "known", "metric": "loss", "start": "-5"},
            "Bad start: expected an integer from 0 to 9223372036854775807, got '-5'",
        ),
        (
            "/series",
            {"run": "known", "metric": "loss", "end": "9" * 30},
            f"Bad end: expected an integer from 0 to {2**63 - 1}, got '{'9' * 30}'",
        ),
        (
            "/series",
            {"run": "known", "metric": "loss", "end": "9223372036854775808"},
            "got '9223372036854775808'",
        ),
        (
            "/series",
            {"run": "known", "metric": "loss", "start": "10", "end": "5"},
            "Bad range: start=10 is after end=5",
        ),
        (
            "/download",
            {"run": "known", "metric": "loss"},
            "Missing format: expected 'csv' or 'json'",
        ),
        (
            "/download",
            {"run": "known", "metric": "loss", "format": "xml"},
            "Bad format: expected 'csv' or 'json', got 'xml'",
        ),
    ],
)
def test_bad_parameters_are_400(client, route, params, message):
    response = client.get(PREFIX + route, query_string=params)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.get_data(as_text=True).startswith("Invalid argument: ")
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize("route", ["/series", "/jumps", "/download"])
def test_unknown_run_and_metric_are_404(client, route):
    base = {"format": "csv"} if route == "/download" else {}
    response = client.get(
        PREFIX + route, query_string={**base, "run": "nope", "metric": "loss"}
    )
    assert response.status_code == 404
    assert (
        response.get_data(as_text=True) == "Not found: No epochjump data for run 'nope'"
    )

    response = client.get(
        PREFIX + route, query_string={**base, "run": "known", "metric": "f1"}
    )
    assert response.status_code == 404
    assert response.get_data(as_text=True) == (
        "Not found: No metric 'f1' in run 'known'; it has ['loss', 'accuracy']"
    )


def test_index_js(client, tmp_path, monkeypatch):
    bundle = tmp_path / "index.js"
    bundle.write_text("export function render() {}\n")
    monkeypatch.setattr(plugin_module, "INDEX_JS", str(bundle))

    response = client.get(PREFIX + "/index.js")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.get_data(as_text=True) == "export function render() {}\n"


def test_index_js_missing_is_404(client, tmp_path, monkeypatch):
    monkeypatch.setattr(plugin_module, "INDEX_JS", str(tmp_path / "missing.js"))
    response = client.get(PREFIX + "/index.js")
    assert response.status_code == 404
    assert "frontend not built" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "samples_per_plugin, warning",
    [
        ({}, None),
        ({"epochjump": 0}, None),
        (
            {"epochjump": 5, "images": 3},
            "--samples_per_plugin=epochjump=5 keeps at most 5",
        ),
    ],
)
def test_runs_warning_names_a_user_sample_limit(logdir, samples_per_plugin, warning):
    _, provider = plugin_client.local_provider(logdir / "known")
    client = make_client(provider, samples_per_plugin)
    answer = get_json(client, "/runs")
    if warning is None:
        assert answer["warning"] is None
    else:
        assert answer["warning"].startswith(warning)


def test_runs_warning_without_the_loader(logdir):
    _, provider = plugin_client.local_provider(logdir / "known")
    flags = argparse.Namespace(samples_per_plugin={})
    context = base_plugin.TBContext(data_provider=provider, flags=flags)
    app = application.TensorBoardWSGI(
        [plugin_module.EpochJumpPlugin(context)], data_provider=provider
    )
    answer = get_json(werkzeug_test.Client(app), "/runs")
    assert "--samples_per_plugin=epochjump=0" in answer["warning"]


def test_cache_rereads_a_run_only_when_it_changed(tmp_path, monkeypatch):
    loads = CountingLoads(monkeypatch)
    writer = epochjump.Writer(tmp_path / "live")
    writer.start_epoch(1)
    for step in range(1, 6):
        writer.log_batch(step, {"loss": float(step)}, wall_time=T0 + step)
    writer.flush()
    multiplexer, provider = plugin_client.local_provider(tmp_path)
    client = make_client(provider)

    assert get_json(client, "/series", run="live", metric="loss")["total_batches"] == 5
    get_json(client, "/series", run="live", metric="loss")
    get_json(client, "/jumps", run="live", metric="loss")
    get_json(client, "/runs")
    assert loads.calls == ["live"]

    for step in range(6, 9):
        writer.log_batch(step, {"loss": float(step)}, wall_time=T0 + step)
    writer.close()
    multiplexer.Reload()

    answer = get_json(client, "/series", run="live", metric="loss")
    assert answer["batches"]["batch_value"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert get_json(client, "/runs")["runs"][0]["batches"] == 8
    assert loads.calls == ["live", "live"]


def test_cache_keeps_the_most_recently_used_runs(logdir, monkeypatch):
    loads = CountingLoads(monkeypatch)
    _, provider = plugin_client.local_provider(logdir)
    cache = run_cache.RunCache(RunOpener(provider), max_runs=2)
    ctx = tb_context.RequestContext()
    for run in ("known", "big", "known", ODD_RUN, "known", "big"):
        assert cache.get(ctx, "", run).name == run
    assert loads.calls == ["known", "big", ODD_RUN, "big"]
    assert cache.get(ctx, "", "missing") is None


def test_cache_reads_a_run_once_under_concurrent_requests(logdir, monkeypatch):
    loads = CountingLoads(monkeypatch, delay=0.2)
    _, provider = plugin_client.local_provider(logdir / "known")
    client = make_client(provider)
    bodies = []

    def request():
        bodies.append(client.get(PREFIX + "/series?run=.&metric=loss").get_data())

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert loads.calls == ["."]
    assert len(bodies) == 4 and len(set(bodies)) == 1


def test_impls_work_without_http(logdir):
    """The `*_impl` methods are plain functions of the provider's data."""
    _, provider = plugin_client.local_provider(logdir)
    context = base_plugin.TBContext(data_provider=provider, flags=None)
    plugin = plugin_module.EpochJumpPlugin(context)
    ctx = tb_context.RequestContext()
    series = plugin.series_impl(ctx, "", "known", "loss", start=30, end=30)
    assert series["batches"]["running_mean"] == [LOSS_MEAN[30]]
    body, content_type = plugin.download_impl(ctx, "", "known", "loss", "csv")
    assert content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) == 31 and float(rows[-1][3]) == LOSS[30]
    assert plugin.runs_impl(ctx, "")["warning"] is None
