"""Analysis: the jump decomposition and its companions (pure numpy, no I/O)."""
