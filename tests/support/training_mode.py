"""An independent numpy recomputation of a training-mode evaluation (batch norm on
batch statistics) of the 64-16(BatchNorm, relu)-10 softmax model the tests fit."""

import numpy as np

BN_EPSILON = 1e-3  # Keras's default.


def batch_norm_training_mode(weights, x, y, batch_size):
    """Loss (batch-size-weighted mean of batch means) and accuracy of the BN
    model over batches of `batch_size`, each normalised by its own statistics."""
    w1, b1, gamma, beta, _moving_mean, _moving_var, w2, b2 = (
        np.asarray(w, np.float64) for w in weights
    )
    losses, sizes, correct = [], [], 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        h = xb @ w1 + b1
        mean, var = h.mean(axis=0), h.var(axis=0)  # Biased, as Keras.
        h = (h - mean) / np.sqrt(var + BN_EPSILON) * gamma + beta
        logits = np.maximum(h, 0) @ w2 + b2
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p = np.clip(p, 1e-7, 1 - 1e-7)
        losses.append(-np.log(p[np.arange(len(yb)), yb]).mean())
        sizes.append(len(yb))
        correct += int((p.argmax(axis=1) == yb).sum())
    loss = float(np.dot(losses, sizes) / np.sum(sizes))
    return loss, correct / len(x)
