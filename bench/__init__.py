"""Benchmarks of Visioguichet: synthetic call participants, Locust load, capacity search.

Run from the repository root, e.g. ``python -m bench.capacity --quick``.
"""
