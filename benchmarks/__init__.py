"""Benchmarks of activecalls-async: run them with `make bench` or `python -m benchmarks`."""
