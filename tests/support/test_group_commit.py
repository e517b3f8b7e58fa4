"""Ticket changes are written by group commit: several changes per transaction, in order, and a
refused batch undoes exactly the changes queued on it and tells the people concerned.

A recording outbox stands in for stanzas; the database is a real SQLite file.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import OperationalError

from .test_engine import A, B, C, make, online, settle  # noqa: F401 - make is a fixture

CUSTOMERS = 20


def hold_writes(engine, monkeypatch, holds):
    """The next batch with a change for which ``holds(entry, kind)`` is true waits at its write: the
    returned ``writing`` is set when it gets there, and it goes on when ``gate`` is set."""
    real = engine.store.save_batch
    gate, writing = asyncio.Event(), asyncio.Event()

    async def held(entries):
        if any(holds(e, k) for e in entries for k, *_ in e.events):
            writing.set()
            await gate.wait()
        await real(entries)

    monkeypatch.setattr(engine.store, "save_batch", held)
    return gate, writing


async def test_customers_arriving_together_share_transactions_and_resume_in_order(make):
    engine, rec = await make()
    before = engine.journal.batches
    joined = await asyncio.gather(*(engine.join("help", f"c{n}@y/r", "en") for n in range(CUSTOMERS)))
    # created + queued for each: fewer transactions than changes.
    assert engine.journal.entries >= 2 * CUSTOMERS
    assert engine.journal.batches - before < 2 * CUSTOMERS
    order = [t.id for t in sorted(joined, key=lambda t: t.sort_key())]
    assert list(engine.waiting["help"].ids()) == order
    for t in joined:
        assert [k for k, *_ in await engine.store.events(t.id)] == ["created", "queued"]
    # Everyone who was told they wait is stored: a restart resumes them, in the same order, and
    # offers them in that order.
    engine2, rec2 = await make()
    assert list(engine2.waiting["help"].ids()) == order
    await online(engine2, A)
    await settle()
    assert [c for c, _agent in rec2.of("offer")] == [sorted(joined, key=lambda t: t.sort_key())[0].customer]


async def test_a_refused_batch_undoes_its_changes_and_tells_the_people_concerned(make, monkeypatch):
    engine, rec = await make()
    await online(engine, A)
    first = await engine.join("help", "first@y/r", "en")
    await settle()
    assert first.state == "offered"
    waiting = await engine.join("help", "waiting@y/r", "en")
    assert waiting.state == "queued"
    real = engine.store.save_batch

    async def refuse(entries):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(engine.store, "save_batch", refuse)
    rec.calls.clear()
    outcomes = await asyncio.gather(engine.accept(first.id, f"{A}/r"), engine.join("help", "late@y/r", "en"),
                                    engine.leave(waiting.id, "bye"), return_exceptions=True)
    # Each person is refused (the chat and IQ surfaces turn this into a wait-type error) ...
    assert all(isinstance(o, OperationalError) for o in outcomes), outcomes
    # ... told nothing of what was not stored, and memory is as the database holds it.
    assert not rec.of("connect") and not rec.of("departed")
    # (Queue positions may still go out: they tell the state as stored.)
    assert not [body for customer, body, status in rec.of("customer") if status is None]
    assert (first.state, first.agent, list(first.offers)) == ("offered", "", [f"{A}/r"])
    assert ("offer", first.id) in engine._timers  # its clock runs again
    assert engine.tickets[waiting.id] is waiting and waiting.state == "queued"
    assert not [t for t in engine.tickets.values() if t.customer == "late@y"]
    assert list(engine.waiting["help"].ids()) == [first.id, waiting.id]
    # The database is back: the same requests work, and only they are stored.
    monkeypatch.setattr(engine.store, "save_batch", real)
    await engine.accept(first.id, f"{A}/r")
    assert rec.of("connect") == [("first@y", f"{A}/r")]
    late = await engine.join("help", "late@y/r", "en")
    assert [k for k, *_ in await engine.store.events(first.id)] == ["created", "queued", "offered", "accepted"]
    assert [k for k, *_ in await engine.store.events(waiting.id)][:2] == ["created", "queued"]
    assert "abandoned" not in [k for k, *_ in await engine.store.events(waiting.id)]
    assert [k for k, *_ in await engine.store.events(late.id)][:2] == ["created", "queued"]


async def test_an_acceptance_and_the_agents_next_offer_share_one_transaction(make, monkeypatch):
    """The answer frees the agent for the next customer: that offer is written with the acceptance
    (never before it), not after the acceptance's own transaction and the transcript's read."""
    engine, rec = await make(max_chats=2)
    await online(engine, A)
    first = await engine.join("help", "first@y/r", "en")
    second = await engine.join("help", "second@y/r", "en")
    await settle()
    assert (first.state, second.state) == ("offered", "queued")  # one offer at a time per agent
    batches: list[list[tuple[str, str]]] = []
    real = engine.store.save_batch

    async def recording(entries):
        batches.append([(e.copy.id, kind) for e in entries for kind, *_ in e.events])
        await real(entries)

    monkeypatch.setattr(engine.store, "save_batch", recording)
    await engine.accept(first.id, f"{A}/r")
    await settle()
    assert second.state == "offered"
    together = [b for b in batches if (first.id, "accepted") in b]
    assert together and (second.id, "offered") in together[0], batches
    assert [c for c, _agent in rec.of("offer")] == ["first@y", "second@y"]


async def test_an_offer_leaves_once_written_without_waiting_for_the_engines_lock(make, monkeypatch):
    """An offer goes to its agent as soon as its write is committed: not after the routing task has
    the engine's lock back (behind whoever took it meanwhile) and has announced the pass's events."""
    engine, rec = await make()
    await online(engine, A)
    gate, writing = hold_writes(engine, monkeypatch, lambda _entry, kind: kind == "offered")
    joining = asyncio.ensure_future(engine.join("help", "first@y/r", "en"))
    await asyncio.wait_for(writing.wait(), 5)
    assert not rec.of("offer")  # never before it is stored
    await asyncio.wait_for(engine._lock.acquire(), 5)  # someone else's change holds the lock now
    try:
        gate.set()
        for _ in range(100):
            if rec.of("offer"):
                break
            await asyncio.sleep(0.01)
        assert [c for c, _agent in rec.of("offer")] == ["first@y"]
    finally:
        engine._lock.release()
    t = await asyncio.wait_for(joining, 5)
    await settle()
    assert t.state == "offered" and [k for k, *_ in await engine.store.events(t.id)][-1] == "offered"


async def conversation_whose_write_waits(make, monkeypatch, kind: str):
    """An engine with one active conversation whose next ``kind`` change is held at its write: the
    returned ``writing`` is set when it gets there, and it goes on when ``gate`` is set."""
    engine, rec = await make()
    await online(engine, A)
    t = await engine.join("help", "first@y/r", "en")
    await settle()
    await engine.accept(t.id, f"{A}/r")
    gate, writing = hold_writes(engine, monkeypatch, lambda _entry, change: change == kind)
    return engine, rec, t, gate, writing


async def test_during_a_close_write_others_run_and_the_closing_ticket_is_refused(make, monkeypatch):
    """A close lends the engine's lock while its change is written: other people's changes go on (and
    join the batch), but the ticket being closed is no longer open to them, as after the close."""
    from component.errors import StanzaError

    engine, rec, t, gate, writing = await conversation_whose_write_waits(make, monkeypatch, "closed")
    closing = asyncio.ensure_future(engine.close(t.id, A))
    await writing.wait()
    assert not engine._lock.locked()  # lent during the write
    refusals = [engine.close(t.id, A), engine.transfer(t.id, A, "help"), engine.set_pending(t.id, A),
                engine.note(t.id, A, "still there?", open_only=True), engine.whisper(t.id, A, "psst"),
                engine.leave(t.id, "bye")]
    for attempt in refusals:
        with pytest.raises(StanzaError) as refused:
            await attempt
        assert refused.value.condition == "item-not-found"
    assert engine.live(t.id) is None and engine.open_ticket("help", "first@y") is None
    # Another customer comes in meanwhile; the agent freed by the close is offered them once both are stored.
    joining = asyncio.ensure_future(engine.join("help", "second@y/r", "en"))
    await settle()
    assert not rec.of("closed") and not joining.done()
    gate.set()
    await closing
    second = await joining
    await settle()
    assert rec.of("closed") == ["first@y"]
    assert t.id not in engine.tickets
    assert second.state == "offered" and rec.of("offer")[-1] == ("second@y", f"{A}/r")
    assert [k for k, *_ in await engine.store.events(t.id)][-1] == "closed"
    # A note through the help desk still reaches the resolved ticket, as before.
    await engine.note(t.id, A, "follow up by mail")
    assert [k for k, *_ in await engine.store.events(t.id)][-1] == "note"


async def test_pending_told_only_if_the_customer_did_not_answer_during_its_write(make, monkeypatch):
    """``/pending`` lends the lock while it is written: a customer answering meanwhile queues the
    ticket again, and is then not told that the agent waits for them."""
    from plugins.support.texts import text

    engine, rec, t, gate, writing = await conversation_whose_write_waits(make, monkeypatch, "pending")
    waiting = asyncio.ensure_future(engine.set_pending(t.id, A))
    await writing.wait()
    answering = asyncio.ensure_future(engine.requeue(t.id, "first@y/r"))
    await settle()
    gate.set()
    await asyncio.gather(waiting, answering)
    await settle()
    told = [body for customer, body, _status in rec.of("customer") if customer == "first@y"]
    assert text("requeued", "en") in told
    assert text("pending_customer", "en") not in told
    kinds = [k for k, *_ in await engine.store.events(t.id)]
    assert kinds[kinds.index("pending") + 1] == "queued"


async def test_a_customer_writing_while_their_close_is_written_reopens_it_once_stored(make, monkeypatch):
    """A message written while the close is being stored (the database still says active) waits for the
    write and finds the ticket resolved, to reopen it: never a second ticket next to it."""
    engine, rec, t, gate, writing = await conversation_whose_write_waits(make, monkeypatch, "closed")
    closing = asyncio.ensure_future(engine.close(t.id, A))
    await writing.wait()
    asking = asyncio.ensure_future(engine.reopenable("help", "first@y"))
    await settle()
    assert not asking.done()
    gate.set()
    await closing
    again = await asking
    assert again is not None and again.id == t.id and again.state == "resolved"


async def test_a_status_batch_during_the_queued_write_does_not_tell_the_place_before_the_greeting(make, monkeypatch):
    """Queuing lends the engine's lock while its change is written; a status batch running then (another
    customer's change made the queue dirty) leaves the newcomer to the greeting, which comes first."""
    engine, rec = await make()
    await engine.join("help", "earlier@y/r", "en")
    gate, writing = hold_writes(engine, monkeypatch, lambda entry, kind: entry.copy.customer == "late@y"
                                and kind == "queued")
    joining = asyncio.ensure_future(engine.join("help", "late@y/r", "en"))
    await asyncio.wait_for(writing.wait(), 5)
    await engine._send_statuses("help")  # a batch while the newcomer's "queued" is being written
    gate.set()
    await joining
    told = [(body, status) for customer, body, status in rec.of("customer") if customer == "late@y"]
    assert told and told[0][1] is None and "connect you" in told[0][0], told
    assert [status for _body, status in told if status is not None] == [(1, told[-1][1][1])], told


async def test_agents_coming_online_together_share_one_routing_pass(make, monkeypatch):
    # Fifty agents' presences are read in one turn of the loop; one pass over the agents for each
    # of them made the last one's offer wait for all the passes before it.
    engine, rec = await make()
    waiting = [await engine.join("help", f"c{n}@y/r", "en") for n in range(4)]
    passes: list[int] = []
    real = engine._route_pass

    async def counted(*args, **kwargs):
        passes.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(engine, "_route_pass", counted)
    await asyncio.gather(*(engine.agent_presence("help", f"{agent}/r", "chat") for agent in (A, B, C)))
    assert len(passes) == 1
    offered = {agent for _customer, agent in rec.of("offer")}
    assert offered == {f"{A}/r", f"{B}/r", f"{C}/r"}
    assert [t.state for t in waiting] == ["offered", "offered", "offered", "queued"]
    # A change after the pass started gets a pass of its own.
    await engine.agent_presence("help", f"{A}/r", None)
    assert len(passes) == 2


async def test_a_pass_cancelled_before_it_ran_leaves_nobody_waiting(make):
    # The engine stopping cancels its tasks, perhaps before a pass due ever ran: the presence that
    # waited for it must end, and no later change may find that pass still due.
    engine, _rec = await make()
    waiter = asyncio.ensure_future(engine.agent_presence("help", f"{A}/r", "chat"))
    await asyncio.sleep(0)
    assert "help" in engine._passes_due
    await engine.stop()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiter, 5)
    assert "help" not in engine._passes_due
