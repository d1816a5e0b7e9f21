"""The variant matrix behind `gosvc matrix`: which variants (variants) and each one rendered and checked (run).
It imports checks, servers and template."""
