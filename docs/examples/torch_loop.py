"""A plain PyTorch training loop recorded with `epochjump.Writer`.

Run: python docs/examples/torch_loop.py logs/torch_loop
then: tensorboard --logdir logs   (tab "Epoch Jump")
"""

import sys

import torch
from sklearn.datasets import load_digits

import epochjump


def train(log_dir, epochs=3, batch_size=32, seed=0):
    """Trains a small classifier on scikit-learn's digits, recording each batch.

    Args:
      log_dir: str, the run directory.
      epochs: int.
      batch_size: int.
      seed: int.

    Returns:
      A list with, per batch, `(step, loss, accuracy, size)` as computed in
      the loop, for checking.
    """
    torch.manual_seed(seed)
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 32),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(32, 10),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    train_x, train_y = x[:1000], y[:1000]
    eval_x, eval_y = x[1000:1300], y[1000:1300]
    recorded = []
    step = 0
    with epochjump.Writer(log_dir) as writer:
        for epoch in range(epochs):
            writer.start_epoch(step + 1, epoch=epoch)
            model.train()
            for start in range(0, len(train_x), batch_size):
                xb = train_x[start : start + batch_size]
                yb = train_y[start : start + batch_size]
                logits = model(xb)
                loss = torch.nn.functional.cross_entropy(logits, yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                step += 1
                accuracy = (logits.argmax(1) == yb).float().mean().item()
                # No running_means=: the writer averages like Keras, by samples.
                writer.log_batch(
                    step, {"loss": loss.item(), "accuracy": accuracy}, weight=len(xb)
                )
                recorded.append((step, loss.item(), accuracy, len(xb)))
            model.eval()
            with torch.no_grad():
                for kind, (ex, ey) in (
                    ("train_eval", (train_x[:256], train_y[:256])),
                    ("val", (eval_x, eval_y)),
                ):
                    logits = model(ex)
                    writer.log_eval(
                        kind,
                        step,
                        {
                            "loss": torch.nn.functional.cross_entropy(
                                logits, ey
                            ).item(),
                            "accuracy": (logits.argmax(1) == ey).float().mean().item(),
                        },
                    )
    return recorded


if __name__ == "__main__":
    train(sys.argv[1] if len(sys.argv) > 1 else "logs/torch_loop")
