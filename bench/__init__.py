"""Benchmarks of the event flow through real processes: ``python -m bench.latency``, ``python -m bench.throughput``.

``python -m bench`` runs both. See ``bench/README.md``.
"""
