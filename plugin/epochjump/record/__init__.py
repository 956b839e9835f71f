"""Recording: exact batch capture per Keras backend, the callback, the writer."""
