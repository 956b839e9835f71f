"""A plain `tf.GradientTape` training loop recorded with `epochjump.Writer`.

Run: python docs/examples/gradient_tape_loop.py logs/tape_loop
"""

import sys

import tensorflow as tf
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
      A list with, per batch, `(step, loss, size)` as computed in the loop.
    """
    tf.random.set_seed(seed)
    x, y = load_digits(return_X_y=True)
    x = tf.constant(x / 16.0, tf.float32)
    y = tf.constant(y)
    dense1 = tf.keras.layers.Dense(32, activation="relu")
    dense2 = tf.keras.layers.Dense(10)
    optimizer = tf.keras.optimizers.SGD(0.1)

    @tf.function
    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            logits = dense2(dense1(xb))
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits)
            )
        variables = dense1.trainable_variables + dense2.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    recorded = []
    step = 0
    with epochjump.Writer(log_dir) as writer:
        for epoch in range(epochs):
            writer.start_epoch(step + 1, epoch=epoch)
            for start in range(0, 1000, batch_size):
                xb, yb = x[start : start + batch_size], y[start : start + batch_size]
                loss = float(train_step(xb, yb))
                step += 1
                writer.log_batch(step, {"loss": loss}, weight=int(xb.shape[0]))
                recorded.append((step, loss, int(xb.shape[0])))
    return recorded


if __name__ == "__main__":
    train(sys.argv[1] if len(sys.argv) > 1 else "logs/tape_loop")
