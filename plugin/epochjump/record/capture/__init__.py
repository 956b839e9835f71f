"""Exact batch capture inside Keras's train step, one module per backend.

`recorder_for(model)` picks the recorder of the model's Keras backend; the
backend modules import only `base`, never this factory.
"""

from epochjump.record import keras_api


def recorder_for(model):
    """Returns the model's recorder for the current Keras backend.

    A recorder is installed once per model and kept across `fit()` calls; a
    new one replaces it after `compile()` gave the model new metrics.

    Raises:
      NotImplementedError: on a backend epochjump cannot record.
    """
    import keras

    backend = keras.backend.backend()
    if keras_api.is_tf_keras(model) or backend == "tensorflow":
        from epochjump.record.capture.tensorflow import (
            TensorFlowRecorder as recorder_class,
        )
    elif backend == "jax":
        from epochjump.record.capture.jax import JaxRecorder as recorder_class
    elif backend == "torch":
        from epochjump.record.capture.torch import TorchRecorder as recorder_class
    else:
        raise NotImplementedError(
            "EpochJumpCallback records batch values on the TensorFlow, JAX and "
            f"PyTorch backends. Received: KERAS_BACKEND={backend!r}"
        )
    recorder = getattr(model, "_epochjump_recorder", None)
    if isinstance(
        recorder, recorder_class
    ) and recorder.signature == recorder.keras_api.compile_signature(model):
        return recorder
    if recorder is not None:
        recorder.uninstall()
    recorder = recorder_class(model)
    recorder.install()
    return recorder
