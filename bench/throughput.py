"""Events per second through one worker: a backlog of deactivations, then one worker started to work it off.

``--events`` members are signed in (their creation events applied), the worker is stopped, and every member is
deactivated over SCIM. Once the relay has queued all the deactivations, one worker process starts, and the run
ends when every deactivation's effects are recorded (each removes a seat and revokes a session). Two figures:

- rate: (events - 1) / (last - first ``event_effects.recorded_at``), the pace while the worker is busy;
- wall: from launching the worker process to the last effect recorded, process start-up included.

The same run measures one worker at ``SCIM_WORKER_CONCURRENCY=1`` (on at most 100 events: it is slow) and with
ARQ's default poll (``SCIM_WORKER_POLL_SECONDS=0.5``), and the reference: ``EffectsService.apply`` called in this
process for the same backlog, ten at a time, with no Redis or ARQ in the path.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from uuid import UUID

from bench.harness import BenchStack, Servers, bench_stack, environment_report, servers
from shared.services.effects import EffectsService

_DIRECT_CONCURRENCY = 10


class Result:
    def __init__(self, name: str, events: int, busy_seconds: float, wall_seconds: float) -> None:
        self.name = name
        self.events = events
        self.busy_seconds = busy_seconds
        self.wall_seconds = wall_seconds

    def line(self) -> str:
        rate = (self.events - 1) / self.busy_seconds if self.busy_seconds else float("inf")
        return (
            f"{self.name:<58} rate {rate:7.1f} events/s   wall {self.wall_seconds:6.2f} s "
            f"({self.events / self.wall_seconds:6.1f} events/s)"
        )


async def _backlog(stack: BenchStack, events: int) -> list[UUID]:
    """Signed-in members, their creations applied; then the worker stopped and all of them deactivated."""
    members = await stack.create_members(events)
    await stack.check()
    stack.worker.stop()
    await stack.deactivate_all(members)
    await stack.wait_published()
    rows = await stack.pool.fetch("SELECT id FROM events WHERE type = 'user.deactivated'")
    return [row["id"] for row in rows]


async def _settled(stack: BenchStack, event_ids: list[UUID]) -> None:
    while True:
        pending = await stack.pool.fetchval(
            "SELECT count(*) FROM events WHERE id = ANY($1::uuid[]) AND settled_at IS NULL", event_ids
        )
        if not pending:
            return
        await asyncio.sleep(0.01)


async def _busy_seconds(stack: BenchStack, event_ids: list[UUID]) -> float:
    seconds: float = await stack.pool.fetchval(
        "SELECT extract(epoch FROM max(recorded_at) - min(recorded_at))::float8 FROM event_effects"
        " WHERE event_id = ANY($1::uuid[])",
        event_ids,
    )
    return seconds


async def _one_worker(servers: Servers, events: int, name: str, **worker_env: str) -> Result:
    async with bench_stack(servers, "throughput_worker") as stack:
        event_ids = await _backlog(stack, events)
        stack.worker.env.update(worker_env)
        started = time.monotonic()
        stack.worker.start()
        await _settled(stack, event_ids)
        wall = time.monotonic() - started
        await stack.check()
        return Result(name, len(event_ids), await _busy_seconds(stack, event_ids), wall)


async def _applied_directly(servers: Servers, events: int) -> Result:
    async with bench_stack(servers, "throughput_direct") as stack:
        event_ids = await _backlog(stack, events)
        effects = EffectsService(stack.pool)
        gate = asyncio.Semaphore(_DIRECT_CONCURRENCY)

        async def apply(event_id: UUID) -> None:
            async with gate:
                await effects.apply(event_id)

        started = time.monotonic()
        await asyncio.gather(*(apply(event_id) for event_id in event_ids))
        wall = time.monotonic() - started
        stack.worker.start()  # the queued jobs find the effects recorded and change nothing
        await stack.check()
        name = f"reference: EffectsService.apply, {_DIRECT_CONCURRENCY} at a time"
        return Result(name, len(event_ids), await _busy_seconds(stack, event_ids), wall)


async def main(events: int) -> None:
    with servers() as found:
        print(await environment_report(found, "bench.throughput"))
        print(f"workload:    {events} queued deactivations (each removes a seat and revokes a session)\n")
        results = [
            await _one_worker(found, events, "1 worker, defaults (concurrency 10, poll 0.05 s)"),
            await _one_worker(  # about two events a second (one per poll): a smaller backlog is enough
                found, min(events, 100), "1 worker, SCIM_WORKER_CONCURRENCY=1", SCIM_WORKER_CONCURRENCY="1"
            ),
            await _one_worker(
                found, events, "1 worker, SCIM_WORKER_POLL_SECONDS=0.5 (ARQ's default)", SCIM_WORKER_POLL_SECONDS="0.5"
            ),
            await _applied_directly(found, events),
        ]
    for result in results:
        print(result.line())
    print(
        f"\n(rate: between the first and the last effect; wall: from launching the worker; n per line: "
        f"{', '.join(str(result.events) for result in results)})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="deactivations in the backlog (default 1000)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events))
