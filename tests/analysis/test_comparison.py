"""Runs side by side and "why is validation better": numbers, route, errors.

The expected numbers are recomputed here from the values written, with plain
Python, not through epochjump's analysis; only the level at an epoch's end
comes from `epochjump.analysis.boundary` (with a next epoch) or `levels` (the
last epoch), both tested against a known truth in their own tests.
"""

import json
import math

import pytest
from support import plugin_client

import epochjump
from epochjump import answers
from epochjump.analysis import boundary
from epochjump.analysis import jumps as analysis
from epochjump.analysis import levels
from epochjump.analysis import validation_gap
from epochjump.words import sentences

PREFIX = "/data/plugin/epochjump"
EPOCHS = 3
# Per run: batches per epoch, the train_eval offset from the training-mode
# evaluation (a dropout-like mode gap), whether train_eval is recorded and
# whether its training-mode twin is (not in format version 1).
RUNS = {
    "small_batches": (20, 0.05, True, True),
    "big_batches": (5, 0.01, True, False),
    "no_train_eval": (10, 0.0, False, False),
}
# The training-mode evaluation, from the epoch's last batch value.
SUBSET_OFFSET = -0.015


def accuracy(epoch, batch, batches):
    """Rises through each epoch, with a little deterministic noise."""
    return 0.3 + 0.2 * epoch + 0.25 * batch / batches + 0.01 * ((batch * 7) % 3)


def written_values(run):
    """Per epoch: the accuracy of each batch, and the evaluations after it."""
    batches, offset, has_train_eval, has_training_mode = RUNS[run]
    epochs = []
    for epoch in range(EPOCHS):
        values = [accuracy(epoch, b, batches) for b in range(batches)]
        training_mode = values[-1] + SUBSET_OFFSET
        train_eval = training_mode + offset if has_train_eval else None
        val = values[-1] + offset - 0.02 + 0.005 * epoch
        epochs.append(
            {
                "values": values,
                "train_eval": train_eval,
                "training_mode": training_mode if has_training_mode else None,
                "val": val,
            }
        )
    return epochs


def write_run(path, run):
    with epochjump.Writer(path) as writer:
        step = 0
        for epoch in written_values(run):
            writer.start_epoch(step + 1)
            total = 0.0
            for i, value in enumerate(epoch["values"]):
                step += 1
                total += value
                writer.log_batch(
                    step,
                    {"accuracy": value, "loss": 2.0 - value},
                    running_means={
                        "accuracy": total / (i + 1),
                        "loss": 2.0 - total / (i + 1),
                    },
                )
            writer.log_eval("val", step, {"accuracy": epoch["val"]})
            if epoch["train_eval"] is not None:
                writer.log_eval("train_eval", step, {"accuracy": epoch["train_eval"]})
            if epoch["training_mode"] is not None:
                writer.log_eval(
                    "train_eval_training_mode",
                    step,
                    {"accuracy": epoch["training_mode"]},
                )


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare_logs")
    for run in RUNS:
        write_run(root / run, run)
    return root


@pytest.fixture(scope="module")
def runs(logdir):
    return {run: epochjump.read_run(logdir / run) for run in RUNS}


@pytest.fixture(scope="module")
def client(logdir):
    _, provider = plugin_client.local_provider(logdir)
    return plugin_client.client_for(plugin_client.load_plugin(provider), provider)


def expected_entry(run):
    """The comparison entry of one run, by hand."""
    epochs = written_values(run)
    boundaries, validation = [], []
    for e, epoch in enumerate(epochs):
        values = epoch["values"]
        reported = sum(values) / len(values)
        if e + 1 < len(epochs):
            fit = boundary.across(values, epochs[e + 1]["values"]).end
        else:
            fit = levels.level_at_end(values)
        level, level_stderr = fit.value, fit.stderr
        train_eval = (
            epoch["train_eval"] if epoch["train_eval"] is not None else math.nan
        )
        training_mode = (
            epoch["training_mode"] if epoch["training_mode"] is not None else math.nan
        )
        mode_gap = train_eval - training_mode  # Same subset, same weights.
        if e + 1 < len(epochs):
            first_next = epochs[e + 1]["values"][0]
            jump = first_next - reported
            boundaries.append(
                {
                    "epoch": e,
                    "jump": jump,
                    "lag": level - reported,
                    "lag_stderr": level_stderr,
                    "progress": first_next - level,
                    "lag_share": (level - reported) / jump,
                    "lag_share_text": share_text(level - reported, jump),
                    "mode_gap": mode_gap,
                }
            )
        gap = epoch["val"] - reported
        validation.append(
            {
                "epoch": e,
                "reported": reported,
                "level_at_end": level,
                "train_eval": train_eval,
                "val": epoch["val"],
                "val_gap": gap,
                "lag": level - reported,
                "train_eval_training_mode": training_mode,
                "subset_gap": training_mode - level,
                "mode_gap": mode_gap,
                "generalisation_gap": epoch["val"] - train_eval,
                "lag_share": (level - reported) / gap,
                "subset_share": (training_mode - level) / gap,
                "mode_share": mode_gap / gap,
                "generalisation_share": (epoch["val"] - train_eval) / gap,
                "val_better": gap > 0,
            }
        )
    n = len(boundaries)
    summary = {
        "boundaries": n,
        "mean_jump": sum(b["jump"] for b in boundaries) / n,
        "mean_lag": sum(b["lag"] for b in boundaries) / n,
        "mean_progress": sum(b["progress"] for b in boundaries) / n,
        "mean_mode_gap": (
            sum(b["mode_gap"] for b in boundaries) / n if RUNS[run][3] else math.nan
        ),
        "lag_share": sum(b["lag"] for b in boundaries)
        / sum(b["jump"] for b in boundaries),
        "lag_share_text": share_text(
            sum(b["lag"] for b in boundaries), sum(b["jump"] for b in boundaries)
        ),
    }
    return {"summary": summary, "boundaries": boundaries, "validation": validation}


def share_text(part, whole):
    """A share as the tables show it: a percentage only within 0-100%."""
    if 0 <= part / whole <= 1:
        return f"{round(100 * part / whole)}%"
    return "larger than the jump" if part / whole > 1 else "the other way"


def assert_close(actual, expected, where):
    """Every expected field, to float64 rounding (NaN must be NaN)."""
    for key, value in expected.items():
        got = actual[key]
        if isinstance(value, str):
            assert got == value, (where, key, got)
        elif isinstance(value, float) and math.isnan(value):
            # Routes send NaN as the string "NaN".
            assert got == "NaN" or (isinstance(got, float) and math.isnan(got)), (
                where,
                key,
                got,
            )
        elif isinstance(value, bool):
            assert got is value, (where, key, got)
        else:
            assert got == pytest.approx(value, rel=1e-12, abs=1e-12), (where, key)


def test_compare_matches_a_hand_computation(runs):
    answer = answers.compare_answer(list(runs.values()), "accuracy")
    assert answer["metric"] == "accuracy"
    assert answer["higher_is_better"] is True
    assert answer["estimator"] == analysis.ESTIMATOR
    assert [entry["run"] for entry in answer["runs"]] == [r.name for r in runs.values()]
    for name, entry in zip(RUNS, answer["runs"]):
        expected = expected_entry(name)
        assert_close(entry["summary"], expected["summary"], (name, "summary"))
        assert len(entry["boundaries"]) == EPOCHS - 1
        for got, want in zip(entry["boundaries"], expected["boundaries"]):
            assert set(got) == set(want)
            assert_close(got, want, (name, "boundary", want["epoch"]))
        # Every epoch has a validation record, the last one included.
        assert [v["epoch"] for v in entry["validation"]] == list(range(EPOCHS))
        for got, want in zip(entry["validation"], expected["validation"]):
            assert_close(got, want, (name, "validation", want["epoch"]))
            if RUNS[name][3]:
                parts = (
                    got["lag"]
                    + got["subset_gap"]
                    + got["mode_gap"]
                    + got["generalisation_gap"]
                )
                assert got["val_gap"] == pytest.approx(parts, abs=1e-12)
            assert got["sentence"].startswith(f"After epoch {want['epoch'] + 1}, ")


def test_boundaries_agree_with_explain(runs):
    for run in runs.values():
        jumps = epochjump.explain(run, "accuracy")
        entry = answers.run_entry(run, "accuracy")
        for jump, record in zip(jumps, entry["boundaries"]):
            for field in record.keys() - {"lag_share_text"}:
                got, want = record[field], getattr(jump, field)
                assert got == want or (math.isnan(got) and math.isnan(want))
        ends = analysis.epoch_ends(run, "accuracy")
        assert len(ends) == EPOCHS
        for jump, end in zip(jumps, ends):
            assert (end.epoch, end.last_step) == (jump.epoch, jump.last_step)
            assert end.reported == jump.reported
            assert end.level_at_end == jump.level_at_end
            assert end.level_batches == jump.level_batches


def test_loss_is_better_when_lower(tmp_path):
    """For loss, validation beats the running mean when it is lower."""
    with epochjump.Writer(tmp_path / "loss") as writer:
        writer.start_epoch(1)
        for step, value in enumerate([1.0, 0.8, 0.6, 0.4], start=1):
            writer.log_batch(step, {"loss": value})
        writer.log_eval("val", 4, {"loss": 0.5})
        writer.log_eval("train_eval", 4, {"loss": 0.3})
        writer.log_eval("train_eval_training_mode", 4, {"loss": 0.35})
    run = epochjump.read_run(tmp_path / "loss")
    (gap,) = validation_gap.validation_gaps(run, "loss")
    assert gap.reported == pytest.approx(0.7)
    assert gap.val_gap == pytest.approx(-0.2)
    assert gap.val_better and not gap.higher_is_better
    assert gap.lag == pytest.approx(0.4 - 0.7)
    assert gap.subset_gap == pytest.approx(0.35 - 0.4)
    assert gap.mode_gap == pytest.approx(0.3 - 0.35)
    assert gap.generalisation_gap == pytest.approx(0.5 - 0.3)
    said = sentences.validation_sentence(gap)
    assert said.startswith(
        "After epoch 1, validation (0.5000) is better than the 0.7000 Keras printed"
    )
    # The lag (-0.3) is larger than the gap (-0.2): said in words, not as 150%.
    assert "Averaging lag: -0.3000 ± " in said
    assert "(more than the whole gap)" in said
    # Subset gap and mode gap (-0.05 each) are a quarter of the gap each;
    # val - train_eval (+0.2) points away.
    assert said.count("-0.0500 (25%)") == 2
    assert "+0.2000 (the other way)" in said


@pytest.mark.parametrize(
    "metric, higher",
    [
        ("accuracy", True),
        ("sparse_categorical_accuracy", True),
        ("auc", True),
        ("precision", True),
        ("loss", False),
        ("sparse_categorical_crossentropy", False),
        ("mean_squared_error", False),
        ("mse", False),
        ("mae", False),
        ("kl_divergence", False),
        ("my_loss", False),
    ],
)
def test_direction_from_the_metric_name(metric, higher):
    assert validation_gap.higher_is_better(metric) is higher


def test_sentence_leaves_out_shares_of_a_tiny_gap():
    gap = validation_gap.ValidationGap(
        metric="accuracy",
        epoch=1,
        last_step=40,
        reported=0.77,
        level_at_end=0.83,
        train_eval=0.85,
        val=0.7701,
        val_gap=0.0001,
        lag=0.06,
        mode_gap=0.02,
        generalisation_gap=-0.0799,
        higher_is_better=True,
        lag_stderr=0.004,
    )
    assert gap.val_better
    assert gap.lag_share == pytest.approx(600)
    said = sentences.validation_sentence(gap)
    assert "Averaging lag: +0.0600 ± 0.0040 (more than the whole gap), as" in said
    assert "%" not in said


def test_without_train_eval_the_rest_is_not_split(runs):
    gaps = validation_gap.validation_gaps(runs["no_train_eval"], "accuracy")
    assert all(math.isnan(g.mode_gap) and math.isnan(g.mode_share) for g in gaps)
    said = sentences.validation_sentence(gaps[0])
    assert "pass train_eval_data= to EpochJumpCallback" in said


def get(client, **params):
    return client.get(PREFIX + "/compare", query_string=params)


def test_compare_route(client, runs):
    response = get(client, metric="accuracy", run=["big_batches", "small_batches"])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    body = json.loads(response.get_data(as_text=True))
    assert [r["run"] for r in body["runs"]] == ["big_batches", "small_batches"]
    for entry in body["runs"]:
        expected = expected_entry(entry["run"])
        assert_close(entry["summary"], expected["summary"], entry["run"])
    # Non-finite numbers travel as strings, as in every route.
    response = get(client, metric="accuracy", run="no_train_eval")
    body = json.loads(response.get_data(as_text=True))
    assert body["runs"][0]["summary"]["mean_mode_gap"] == "NaN"
    assert body["runs"][0]["validation"][0]["mode_share"] == "NaN"
    # A run named twice is compared once.
    body = json.loads(
        get(client, metric="loss", run=["big_batches"] * 2).get_data(as_text=True)
    )
    assert [r["run"] for r in body["runs"]] == ["big_batches"]
    assert body["higher_is_better"] is False


@pytest.mark.parametrize(
    "params, status, message",
    [
        ({"metric": "accuracy"}, 400, "Missing run: expected run names"),
        ({"run": "big_batches"}, 400, "Missing metric: expected a metric name"),
        (
            {"metric": "accuracy", "run": ["big_batches", ""]},
            400,
            "Bad run: expected a run name, got ''",
        ),
        (
            {"metric": "accuracy", "run": [f"r{i}" for i in range(21)]},
            400,
            "Bad run: expected at most 20 run names, got 21",
        ),
        (
            {"metric": "accuracy", "run": ["big_batches", "nope"]},
            404,
            "No epochjump data for run 'nope'",
        ),
        (
            {"metric": "f1", "run": "big_batches"},
            404,
            "No metric 'f1' in run 'big_batches'; it has ['loss', 'accuracy']",
        ),
    ],
)
def test_compare_route_errors_name_the_bad_value(client, params, status, message):
    response = get(client, **params)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert message in response.get_data(as_text=True)
