"""The benchmarks (bench/README.md): each script runs as a file, `python bench/<name>.py`, and
imports what it shares as `bench.<module>` (the harness: bench/harness.py)."""
