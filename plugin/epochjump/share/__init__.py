"""Sharing: the offline HTML report, PNG/SVG pictures and `epochjump.plot`."""
