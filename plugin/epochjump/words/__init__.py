"""Words: every sentence and every number epochjump shows, from the analysis records."""
