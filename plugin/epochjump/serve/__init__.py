"""Serving: the TensorBoard plugin (thin routes), its loader and its run cache."""
