"""epochjump.lightning.EpochJumpCallback on a real, tiny Lightning fit (CPU)."""

import importlib
import os
import subprocess
import sys

import numpy as np
import pytest
from support.framework_runs import explain_output
from support.framework_runs import train_with_failing_writes

import epochjump

# `make test` installs Lightning: missing there, collecting this file fails.
import_or_skip = (
    importlib.import_module if os.environ.get("CI") else pytest.importorskip
)
torch = import_or_skip("torch")
L = import_or_skip("lightning.pytorch")
torchmetrics = import_or_skip("torchmetrics")

from epochjump.lightning import EpochJumpCallback  # noqa: E402

SAMPLES, BATCH, EPOCHS = 100, 16, 3  # 7 batches per epoch, the last of 4.
BATCHES = -(-SAMPLES // BATCH)


class Classifier(L.LightningModule):
    """Logs like users do, and keeps what it logged to check against."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
        )
        # A torchmetrics metric, logged as the object: Lightning computes it.
        self.accuracy = torchmetrics.classification.MulticlassAccuracy(
            num_classes=2, average="micro"
        )
        self.train_logged = []  # (loss, accuracy, batch size) per batch
        self.val_logged = []  # (epoch, loss, batch size) per validation batch

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        accuracy = (logits.argmax(1) == y).float().mean()
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        self.log("acc", accuracy, on_step=True, on_epoch=True, prog_bar=True)
        self.log("loss_x2", 2 * loss.detach())  # on_step only: Lightning's default
        self.accuracy(logits, y)
        self.log("tm_acc", self.accuracy, on_step=True, on_epoch=True)
        self.train_logged.append((loss.item(), accuracy.item(), len(y)))
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("val_loss", loss)
        if not self.trainer.sanity_checking:
            self.val_logged.append((self.current_epoch, loss.item(), len(y)))

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)]


class LoggedMetrics(L.loggers.Logger):
    """What Lightning hands its loggers (its `*_epoch` means among them)."""

    def __init__(self):
        super().__init__()
        self.logged = []

    name = "memory"
    version = 0

    def log_hyperparams(self, params):
        pass

    def log_metrics(self, metrics, step=None):
        self.logged.append({k: float(v) for k, v in metrics.items()})


def loaders():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(SAMPLES + 40, 8, generator=generator)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    train = torch.utils.data.TensorDataset(x[:SAMPLES], y[:SAMPLES])
    val = torch.utils.data.TensorDataset(x[SAMPLES:], y[SAMPLES:])
    return (
        torch.utils.data.DataLoader(train, batch_size=BATCH),
        torch.utils.data.DataLoader(val, batch_size=BATCH),
    )


def fit(callbacks, logger=False, accumulate_grad_batches=1):
    torch.manual_seed(1)
    model = Classifier()
    trainer = L.Trainer(
        max_epochs=EPOCHS,
        accelerator="cpu",
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=logger,
        log_every_n_steps=1,
        accumulate_grad_batches=accumulate_grad_batches,
        callbacks=callbacks,
    )
    trainer.fit(model, *loaders())
    return model, trainer


def weighted_means_so_far(values, sizes):
    """Each epoch's batch-size-weighted mean up to each batch, in float64."""
    means = []
    for start in range(0, len(values), BATCHES):
        v = np.array(values[start : start + BATCHES], np.float64)
        w = np.array(sizes[start : start + BATCHES], np.float64)
        means.extend(np.cumsum(v * w) / np.cumsum(w))
    return np.array(means)


# With gradient accumulation every batch still gets its own step.
@pytest.fixture(scope="module", params=[1, 2], ids=["each_batch", "accumulating_2"])
def recorded(tmp_path_factory, request):
    log_dir = tmp_path_factory.mktemp("lightning") / "run"
    logger = LoggedMetrics()
    model, trainer = fit([EpochJumpCallback(log_dir)], logger, request.param)
    optimizer_steps = -(-BATCHES // request.param) * EPOCHS
    assert trainer.global_step == optimizer_steps
    return log_dir, model, trainer, logger, epochjump.read_run(log_dir)


@pytest.mark.slow
def test_batch_values_are_what_the_module_logged(recorded):
    _, model, _, _, run = recorded
    loss, accuracy, sizes = (list(c) for c in zip(*model.train_logged))
    assert len(loss) == EPOCHS * BATCHES
    assert set(run.metrics) == {"train_loss", "acc", "loss_x2", "tm_acc"}
    assert run["train_loss"].step.tolist() == list(range(1, EPOCHS * BATCHES + 1))
    assert run.epoch_starts.tolist() == [1, 1 + BATCHES, 1 + 2 * BATCHES]
    assert run["train_loss"].epoch.tolist() == [i // BATCHES for i in range(len(loss))]
    np.testing.assert_array_equal(run["train_loss"].batch_value, loss)
    np.testing.assert_array_equal(run["acc"].batch_value, accuracy)
    np.testing.assert_array_equal(run["tm_acc"].batch_value, accuracy)
    np.testing.assert_array_equal(
        run["loss_x2"].batch_value, (2 * np.float32(loss)).astype(np.float64)
    )
    # Lightning weighs its epoch means by batch size (the last batch has 4).
    assert sizes[BATCHES - 1] == SAMPLES - (BATCHES - 1) * BATCH
    for metric, values in (("train_loss", loss), ("acc", accuracy)):
        np.testing.assert_allclose(
            run[metric].running_mean, weighted_means_so_far(values, sizes), rtol=1e-6
        )
    # Logged on_step only, or a torchmetrics object: the Keras-style mean, exact.
    for metric in ("loss_x2", "tm_acc"):
        np.testing.assert_allclose(
            run[metric].running_mean,
            weighted_means_so_far(run[metric].batch_value, sizes),
            rtol=1e-12,
        )


@pytest.mark.slow
def test_lightning_epoch_means_are_rebuilt_from_the_batches(recorded):
    _, model, trainer, logger, run = recorded
    sizes = np.array([size for _, _, size in model.train_logged], np.float64)
    for metric in ("train_loss", "acc", "tm_acc"):
        epoch_means = [
            m[f"{metric}_epoch"] for m in logger.logged if f"{metric}_epoch" in m
        ]
        assert len(epoch_means) == EPOCHS
        series = run[metric]
        for epoch, logged in enumerate(epoch_means):
            batches = slice(epoch * BATCHES, (epoch + 1) * BATCHES)
            rebuilt = np.average(series.batch_value[batches], weights=sizes[batches])
            np.testing.assert_allclose(rebuilt, logged, rtol=1e-6)
            np.testing.assert_allclose(
                series.running_mean[batches][-1], logged, rtol=1e-6
            )
            if metric != "tm_acc":
                # Lightning's own mean of tensors, bit for bit.
                assert series.running_mean[batches][-1] == logged
        last = trainer.callback_metrics[f"{metric}_epoch"]
        np.testing.assert_allclose(series.running_mean[-1], last, rtol=1e-6)


@pytest.mark.slow
def test_validation_and_learning_rate(recorded):
    _, model, _, logger, run = recorded
    logged_val = [m["val_loss"] for m in logger.logged if "val_loss" in m]
    val = run["train_loss"].val  # val_loss pairs with the training loss
    assert val.step.tolist() == [BATCHES, 2 * BATCHES, 3 * BATCHES]
    np.testing.assert_array_equal(val.value, np.float32(logged_val))
    for epoch in range(EPOCHS):
        rows = [(v, n) for e, v, n in model.val_logged if e == epoch]
        mean = np.average([v for v, _ in rows], weights=[n for _, n in rows])
        np.testing.assert_allclose(val.value[epoch], mean, rtol=1e-6)
    assert run.learning_rate.step.tolist() == [1, 1 + BATCHES, 1 + 2 * BATCHES]
    np.testing.assert_allclose(run.learning_rate.value, [0.1, 0.05, 0.025], rtol=1e-15)


@pytest.mark.slow
def test_explain_answers(recorded):
    log_dir, _, trainer, _, run = recorded
    jumps = epochjump.explain(run, "train_loss")
    assert len(jumps) == EPOCHS - 1
    assert jumps[0].reported == run["train_loss"].running_mean[BATCHES - 1]
    if trainer.accumulate_grad_batches > 1:
        return  # The command reads any run alike: once is enough.
    out = explain_output(log_dir, "--metric", "train_loss")
    assert "== train_loss ==" in out
    assert f"{jumps[0].reported:.4f}" in out


@pytest.mark.slow
def test_training_is_unchanged_and_failures_only_warn(tmp_path, monkeypatch):
    plain, _ = fit([])
    recorded_model, _ = train_with_failing_writes(
        monkeypatch, lambda: fit([EpochJumpCallback(tmp_path / "run")])
    )
    for a, b in zip(plain.parameters(), recorded_model.parameters()):
        assert torch.equal(a, b)
    assert plain.train_logged == recorded_model.train_logged


def test_importing_epochjump_imports_no_framework():
    code = (
        "import sys, epochjump, epochjump.cli; "
        "print(sorted({'lightning', 'transformers', 'torch'} & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("log_dir, flush_secs", [("", 10.0), ("logs", 0), (3, 10.0)])
def test_bad_arguments_are_named(log_dir, flush_secs):
    with pytest.raises(ValueError, match=repr(log_dir if log_dir != "logs" else 0)):
        EpochJumpCallback(log_dir, flush_secs=flush_secs)
