"""Helpers shared by the tests: Keras fits, the plugin behind a client, written runs."""
