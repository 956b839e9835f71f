"""Small Keras models compiled with every built-in scalar metric, by task.

Each `TASKS` entry builds `(model, x, y)`: a model whose outputs suit its
metrics (binary, sparse and one-hot multiclass, positive regression), and
data of 200 samples, so batches of 32 end with a partial batch of 8.
"""

import keras
import numpy as np

N, FEATURES, CLASSES, OUTPUTS = 200, 8, 4, 3

# Metrics whose state is a count: their batch values must be exactly equal.
COUNTS = (
    keras.metrics.TruePositives,
    keras.metrics.FalsePositives,
    keras.metrics.TrueNegatives,
    keras.metrics.FalseNegatives,
)


def binary_metrics():
    m = keras.metrics
    return [
        m.BinaryAccuracy(),
        m.BinaryCrossentropy(),
        m.Accuracy(),
        m.Hinge(),
        m.SquaredHinge(),
        m.AUC(name="auc_roc"),
        m.AUC(curve="PR", name="auc_pr"),
        m.AUC(summation_method="minoring", num_thresholds=50, name="auc_min"),
        m.Precision(),
        m.Recall(),
        m.Precision(thresholds=0.3, name="precision_at_0.3"),
        m.Recall(thresholds=0.7, name="recall_at_0.7"),
        m.TruePositives(),
        m.FalsePositives(),
        m.TrueNegatives(),
        m.FalseNegatives(thresholds=0.3, name="fn_at_0.3"),
        m.PrecisionAtRecall(0.5),
        m.RecallAtPrecision(0.5),
        m.SensitivityAtSpecificity(0.5),
        m.SpecificityAtSensitivity(0.5),
        m.F1Score(average="micro", threshold=0.5, name="f1_micro"),
        m.BinaryIoU(target_class_ids=[0, 1], threshold=0.5),
    ]


def sparse_metrics():
    m = keras.metrics
    return [
        m.SparseCategoricalAccuracy(),
        m.SparseCategoricalCrossentropy(),
        m.SparseTopKCategoricalAccuracy(k=2),
        m.MeanIoU(num_classes=CLASSES, sparse_y_pred=False),
        m.IoU(num_classes=CLASSES, target_class_ids=[0, 2], sparse_y_pred=False),
    ]


def one_hot_metrics():
    m = keras.metrics
    return [
        m.CategoricalAccuracy(),
        m.CategoricalCrossentropy(),
        m.TopKCategoricalAccuracy(k=2),
        m.CategoricalHinge(),
        m.KLDivergence(),
        m.OneHotIoU(num_classes=CLASSES, target_class_ids=[1]),
        m.OneHotMeanIoU(num_classes=CLASSES),
        m.F1Score(average="macro", threshold=0.4, name="f1_macro"),
        m.F1Score(average="weighted", name="f1_weighted"),
        m.FBetaScore(average="micro", beta=2.0, threshold=0.3, name="f2_micro"),
        m.FBetaScore(average="macro", beta=0.5, name="f05_macro"),
        m.Precision(top_k=2, name="precision_top2"),
        m.Recall(class_id=1, name="recall_class1"),
        m.AUC(multi_label=True, num_labels=CLASSES, name="auc_multilabel"),
        m.TruePositives(thresholds=0.25, name="tp_at_0.25"),
    ]


def regression_metrics():
    m = keras.metrics
    return [
        m.MeanSquaredError(),
        m.MeanAbsoluteError(),
        m.MeanAbsolutePercentageError(),
        m.MeanSquaredLogarithmicError(),
        m.RootMeanSquaredError(),
        m.LogCoshError(),
        m.CosineSimilarity(),
        m.Poisson(),
        m.R2Score(),
        m.R2Score(class_aggregation="variance_weighted_average", name="r2_vw"),
        m.PearsonCorrelation(),
        m.ConcordanceCorrelation(),
    ]


class SumAndMeanModel(keras.Model):
    """Also tracks `Sum` and `Mean` of its predictions (they take no y_true,
    so `compile()` cannot hold them)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prediction_sum = keras.metrics.Sum(name="prediction_sum")
        self.prediction_mean = keras.metrics.Mean(name="prediction_mean")

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self.prediction_sum.update_state(y_pred, sample_weight)
        self.prediction_mean.update_state(y_pred, sample_weight)
        return super().compute_metrics(x, y, y_pred, sample_weight)


def _task(seed, labels, outputs, activation, loss, metrics, unweighted, model_class):
    """The builder of one task's `(model, x, y)`.

    Args:
        seed: int, seed of the features.
        labels: function from the features to the labels.
        outputs: int, units of the output layer.
        activation: str, its activation.
        loss: Keras loss class.
        metrics: function returning the (weighted) metrics to compile.
        unweighted: `(metric class, name)` of the one unweighted metric.
        model_class: class of the functional model.
    """

    def build():
        x = np.random.default_rng(seed).normal(size=(N, FEATURES)).astype("float32")
        keras.utils.set_random_seed(0)
        inputs = keras.Input((FEATURES,))
        hidden = keras.layers.Dense(16, activation="relu")(inputs)
        model = model_class(inputs, keras.layers.Dense(outputs, activation)(hidden))
        model.compile(
            keras.optimizers.SGD(0.05),
            loss(),
            # Unweighted, so Keras's unweighted path is covered too.
            metrics=[unweighted[0](name=unweighted[1])],
            weighted_metrics=metrics(),
        )
        return model, x, labels(x)

    return build


def _binary_labels(x):
    return (x[:, :1] + 0.5 * x[:, 1:2] > 0).astype("float32")


def _sparse_labels(x):
    return np.argmax(x[:, :CLASSES], axis=1).astype("int64")


def _one_hot_labels(x):
    return np.eye(CLASSES, dtype="float32")[np.argmax(x[:, 1 : CLASSES + 1], axis=1)]


def _regression_labels(x):
    return (np.abs(x[:, :OUTPUTS]) + 0.1).astype("float32")


_L, _M, _ACCURACY = keras.losses, keras.metrics, "unweighted_accuracy"
# One row a task: seed, labels, output units and activation, loss, weighted
# metrics, the unweighted metric, model class.
TASKS = {
    "binary": _task(
        1,
        _binary_labels,
        1,
        "sigmoid",
        _L.BinaryCrossentropy,
        binary_metrics,
        (_M.BinaryAccuracy, _ACCURACY),
        keras.Model,
    ),
    "sparse": _task(
        2,
        _sparse_labels,
        CLASSES,
        "softmax",
        _L.SparseCategoricalCrossentropy,
        sparse_metrics,
        (_M.SparseCategoricalAccuracy, _ACCURACY),
        keras.Model,
    ),
    "one_hot": _task(
        3,
        _one_hot_labels,
        CLASSES,
        "softmax",
        _L.CategoricalCrossentropy,
        one_hot_metrics,
        (_M.CategoricalAccuracy, _ACCURACY),
        keras.Model,
    ),
    "regression": _task(
        4,
        _regression_labels,
        OUTPUTS,
        "softplus",
        _L.MeanSquaredError,
        regression_metrics,
        (_M.MeanAbsoluteError, "unweighted_mae"),
        SumAndMeanModel,
    ),
}
