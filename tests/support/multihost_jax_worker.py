"""One process of a JAX job fitting with `keras.distribution.DataParallel`, or
the single-process fit that job must equal; run by test_distribute.py.

    python multihost_jax_worker.py LOG_DIR PROCESSES PROCESS_ID PORT [WEIGHTS]

With PROCESSES > 1 the process joins the job through `jax.distributed` (its
coordinator on 127.0.0.1:PORT, one CPU device per process) and Keras gives it
its share of each global batch (`DataParallel.distribute_dataset`); with 1 it
fits alone on one device. Either way the model starts from
`multihost.initial_weights` and sees the same global batches. WEIGHTS, if
given, receives the weights before each batch. Prints the pid, `History` and
Keras's batch logs as JSON on its last line.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from support import multihost  # noqa: E402


def datasets(x, y):
    """The training data, the training subset and the validation data, as
    tf.data batched by the global batch size (a multi-process Keras fit on JAX
    shards only tf.data datasets)."""
    import tensorflow as tf

    def batched(start, stop):
        return tf.data.Dataset.from_tensor_slices((x[start:stop], y[start:stop])).batch(
            multihost.GLOBAL_BATCH
        )

    train, val = multihost.TRAIN, multihost.VAL
    return batched(0, train), batched(0, val), batched(train, train + val)


def main(log_dir, processes, process_id, port, weights_path=None):
    if processes > 1:
        jax.distributed.initialize(
            coordinator_address=f"127.0.0.1:{port}",
            num_processes=processes,
            process_id=process_id,
        )
    import keras

    import epochjump
    from support.keras_fits import KerasLogRecorder
    from support.keras_fits import dense_model
    from support.keras_fits import digits

    if processes > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel())
    model = dense_model()
    model.set_weights(multihost.initial_weights([w.shape for w in model.get_weights()]))
    x, y = digits(multihost.TRAIN + multihost.VAL)
    train, train_subset, val = datasets(x, y)
    recorder = KerasLogRecorder(snapshot_weights=weights_path is not None)
    history = model.fit(
        train,
        epochs=multihost.EPOCHS,
        validation_data=val,
        verbose=0,
        callbacks=[
            epochjump.EpochJumpCallback(log_dir, train_eval_data=train_subset),
            recorder,
        ],
    ).history
    if weights_path:
        multihost.save_weights(weights_path, recorder.weights_before_batch)
    logs = [{k: float(v) for k, v in logs.items()} for logs in recorder.batch_logs]
    print(json.dumps({"pid": os.getpid(), "history": history, "batch_logs": logs}))


if __name__ == "__main__":
    log_dir, processes, process_id, port, *weights = sys.argv[1:]
    main(log_dir, int(processes), int(process_id), int(port), *weights)
