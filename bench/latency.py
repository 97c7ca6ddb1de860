"""Deactivation-to-effect latency: from the SCIM PATCH answer to the member's seat being gone.

``--members`` signed-in members are deactivated over SCIM one at a time at ``--rate`` per second, against a
running API (with its relay) and one worker. Two clocks:

- client: from the moment the PATCH answer arrives to the first look at PostgreSQL that finds the seat gone (a
  watcher queries the seats of the members still waiting every 2 ms, so add up to ~3 ms of resolution);
- server: ``event_effects.recorded_at - events.occurred_at``, from the start of the API's write transaction to
  the start of the worker's transaction that applied the event.

The same run measures the worker with ARQ's default poll (``SCIM_WORKER_POLL_SECONDS=0.5``), and the reference: no
relay, Redis or worker in the path, ``EffectsService.apply`` called in this process as soon as the PATCH
answers. The difference is what publishing and queueing cost.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from uuid import UUID

from bench.harness import BenchStack, Member, Servers, bench_stack, describe, environment_report, servers
from shared.services.effects import EffectsService

_WATCH_INTERVAL = 0.002


class Result:
    def __init__(self, name: str, answers: list[float], client: list[float], server: list[float]) -> None:
        self.name = name
        self.answers = answers
        self.client = client
        self.server = server


async def _watch(stack: BenchStack, waiting: dict[UUID, float], gone: dict[UUID, float], done: asyncio.Event) -> None:
    """Note when each waiting member's seat disappears."""
    async with stack.pool.acquire() as connection:
        while not done.is_set() or waiting:
            if waiting:
                looked_for = list(waiting)  # members added while the query runs wait for the next look
                rows = await connection.fetch(
                    "SELECT user_id FROM team_members WHERE user_id = ANY($1::uuid[])", looked_for
                )
                now = time.time()
                present = {row["user_id"] for row in rows}
                for user_id in looked_for:
                    if user_id not in present:
                        gone[user_id] = now - waiting.pop(user_id)
            await asyncio.sleep(_WATCH_INTERVAL)


async def _server_side(stack: BenchStack) -> list[float]:
    rows = await stack.pool.fetch(
        """
        SELECT extract(epoch FROM f.recorded_at - e.occurred_at)::float8 AS seconds
        FROM events e JOIN event_effects f ON f.event_id = e.id
        WHERE e.type = 'user.deactivated'
        """
    )
    return [row["seconds"] for row in rows]


async def _deactivate_steadily(
    stack: BenchStack, members: list[Member], rate: float, effects: EffectsService | None
) -> tuple[list[float], list[float]]:
    """Deactivate at a steady rate; return how long each PATCH took to answer and each seat took to go."""
    waiting: dict[UUID, float] = {}
    gone: dict[UUID, float] = {}
    answers: list[float] = []
    done = asyncio.Event()
    watcher = asyncio.create_task(_watch(stack, waiting, gone, done))
    start = time.monotonic()
    for number, member in enumerate(members):
        await asyncio.sleep(max(0.0, start + number / rate - time.monotonic()))
        sent = time.time()
        await stack.deactivate(member)
        waiting[member.user_id] = answered = time.time()
        answers.append(answered - sent)
        if effects is not None:
            event_id: UUID = await stack.pool.fetchval(
                "SELECT id FROM events WHERE user_id = $1 ORDER BY version DESC LIMIT 1", member.user_id
            )
            await effects.apply(event_id)
    done.set()
    await asyncio.wait_for(watcher, timeout=120)
    return answers, list(gone.values())


async def _through_the_worker(servers: Servers, members: int, rate: float, name: str, **worker_env: str) -> Result:
    async with bench_stack(servers, "latency_worker", **worker_env) as stack:
        people = await stack.create_members(members)
        await stack.check()
        answers, gone = await _deactivate_steadily(stack, people, rate, effects=None)
        await stack.check()
        return Result(name, answers, gone, await _server_side(stack))


async def _applied_directly(servers: Servers, members: int, rate: float) -> Result:
    async with bench_stack(servers, "latency_direct") as stack:
        people = await stack.create_members(members)
        await stack.check()
        stack.worker.stop()
        answers, gone = await _deactivate_steadily(stack, people, rate, effects=EffectsService(stack.pool))
        stack.worker.start()  # the queued jobs of the deactivations, applied already, settle nothing new
        await stack.check()
        return Result("reference: EffectsService.apply right after the answer", answers, gone, [])


async def main(members: int, rate: float) -> None:
    with servers() as found:
        print(await environment_report(found, "bench.latency"))
        print(f"workload:    {members} signed-in members deactivated one at a time, {rate:g} per second\n")
        results = [
            await _through_the_worker(found, members, rate, "API + relay + Redis + 1 worker, defaults (poll 0.05 s)"),
            await _through_the_worker(
                found,
                members,
                rate,
                "the same, SCIM_WORKER_POLL_SECONDS=0.5 (ARQ's default)",
                SCIM_WORKER_POLL_SECONDS="0.5",
            ),
            await _applied_directly(found, members, rate),
        ]
    for result in results:
        print(result.name)
        print(f"  {'PATCH sent -> answered (client)':<52}{describe(result.answers)}")
        print(f"  {'PATCH answer -> seat gone (client)':<52}{describe(result.client)}")
        if result.server:
            print(f"  {'write transaction -> effect transaction (server)':<52}{describe(result.server)}")
    reference = statistics.median(results[-1].client)
    print()
    for result in results[:-1]:
        added = statistics.median(result.client) - reference
        print(f"relay, Redis and the worker add {added * 1000:6.1f} ms to the median: {result.name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200, help="members to deactivate (default 200)")
    parser.add_argument("--rate", type=float, default=20.0, help="deactivations per second (default 20)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.members, arguments.rate))
