"""component.batched: look-ups asked together are answered by one query; later ones by the next."""

from __future__ import annotations

import asyncio

import pytest

from component.batched import BatchedLookup, CoalescedWrites


class Source:
    """A table in memory whose reads can be held open, recording the keys of each query."""

    def __init__(self, rows: dict[str, int]) -> None:
        self.rows = rows
        self.queries: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def load(self, keys: list[str]) -> dict[str, int]:
        self.queries.append(sorted(keys))
        read = {k: self.rows[k] for k in keys if k in self.rows}  # what the database holds as the query starts
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return read


async def reading(source: Source) -> None:
    while not source.queries:
        await asyncio.sleep(0)


async def test_lookups_asked_together_share_one_query_and_unknown_keys_answer_none():
    source = Source({"a": 1, "b": 2})
    lookup = BatchedLookup(source.load)
    found = await asyncio.gather(*(lookup.get(k) for k in ("a", "b", "a", "zz")))
    assert found == [1, 2, 1, None]
    assert source.queries == [["a", "b", "zz"]] and (lookup.queries, lookup.keys) == (1, 3)


async def test_keys_asked_while_a_query_runs_wait_for_the_next_and_see_newer_rows():
    source = Source({"a": 1})
    lookup = BatchedLookup(source.load)
    source.gate.clear()
    first = asyncio.ensure_future(lookup.get("a"))
    await reading(source)
    assert source.queries == [["a"]]
    source.rows["a"] = 5  # written after the first query read
    later = asyncio.ensure_future(lookup.get("a"))
    source.gate.set()
    assert (await first, await later) == (1, 5)
    assert source.queries == [["a"], ["a"]]


async def test_a_failed_query_fails_its_waiters_only_and_a_cancelled_waiter_is_skipped():
    source = Source({"a": 1, "b": 2})
    lookup = BatchedLookup(source.load)
    source.gate.clear()
    source.fail = RuntimeError("database away")
    failing = asyncio.ensure_future(lookup.get("a"))
    cancelled = asyncio.ensure_future(lookup.get("b"))
    await reading(source)
    cancelled.cancel()
    source.gate.set()
    with pytest.raises(RuntimeError, match="database away"):
        await failing
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    source.fail = None
    assert await lookup.get("b") == 2  # the next batch reads again


async def test_writes_made_during_a_batch_go_in_the_next_and_a_key_changed_twice_is_written_once():
    written: list[dict[str, int]] = []
    gate = asyncio.Event()

    async def save(batch: dict[str, int]) -> None:
        written.append(dict(batch))
        await gate.wait()

    writes = CoalescedWrites(save)
    first = writes.put("a", 1)
    while not written:
        await asyncio.sleep(0)
    later = [writes.put("a", 2), writes.put("b", 1), writes.put("a", 3)]
    assert not first.done()
    gate.set()
    await asyncio.gather(first, *later)
    assert written == [{"a": 1}, {"a": 3, "b": 1}] and writes.batches == 2
    assert list(written[1]) == ["b", "a"]  # in the order of their last change


async def test_a_refused_batch_fails_its_waiters_and_the_next_batch_is_written():
    calls: list[dict[str, int]] = []

    async def save(batch: dict[str, int]) -> None:
        calls.append(batch)
        if len(calls) == 1:
            raise RuntimeError("database away")

    writes = CoalescedWrites(save)
    with pytest.raises(RuntimeError, match="database away"):
        await writes.put("a", 1)
    await writes.put("a", 2)
    assert calls == [{"a": 1}, {"a": 2}]
