"""Which process of a multi-process training job this is: only the chief writes."""

import keras

from epochjump.record import keras_api


def is_chief(model):
    """False only in a process that is not the chief of a multi-process job.

    A JAX job (`jax.distributed` with a `keras.distribution` over several
    processes) is led by process 0. A multi-worker `tf.distribute` strategy
    is led by task "chief", or by worker 0 when there is none.

    Args:
      model: the Keras 3 or Keras 2 (`tf_keras`) model being fitted.
    """
    if jax_processes(model) > 1:
        import jax

        return jax.process_index() == 0
    resolver = _cluster_resolver(model)
    task_type = getattr(resolver, "task_type", None)
    if not task_type or task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and resolver.task_id == 0 and not has_chief


def processes(model):
    """How many processes fit `model` together: the JAX processes Keras
    distributes over, or the tasks of a multi-worker `tf.distribute` cluster;
    1 when the process trains alone.

    Args:
      model: the Keras 3 or Keras 2 (`tf_keras`) model being fitted.
    """
    count = jax_processes(model)
    resolver = _cluster_resolver(model)
    if count == 1 and getattr(resolver, "task_type", None):
        tasks = resolver.cluster_spec().as_dict()
        count = sum(len(t) for name, t in tasks.items() if name in _TRAINING_TASKS)
    return max(count, 1)


def jax_processes(model):
    """How many processes Keras distributes `model`'s fit over on JAX: the
    processes of `jax.distributed` under a `keras.distribution`, else 1 (each
    process then trains a model of its own).

    Args:
      model: the Keras 3 or Keras 2 (`tf_keras`) model being fitted.
    """
    if keras_api.is_tf_keras(model):
        return 1
    if keras.backend.backend() != "jax" or keras.distribution.distribution() is None:
        return 1
    import jax

    return jax.process_count()


# The tasks of a tf.distribute cluster that run the training steps.
_TRAINING_TASKS = ("chief", "worker")


def _cluster_resolver(model):
    strategy = getattr(model, "distribute_strategy", None)
    return getattr(strategy, "cluster_resolver", None)
