"""In the terminal: a Keras progress bar showing the model's level beside the running mean."""
