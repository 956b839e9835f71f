"""In the terminal: a Keras progress bar with the model's level beside Keras's mean."""
