"""Benchmarks: each is `python -m bench.NAME`, prints a table and ends with one JSON line of its figures."""
