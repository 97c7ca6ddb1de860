"""``python -m bench``: both benchmarks with their default workloads, one after the other."""

from __future__ import annotations

import asyncio

from bench import latency, throughput

asyncio.run(latency.main(members=200, rate=20.0))
print()
asyncio.run(throughput.main(events=1000))
