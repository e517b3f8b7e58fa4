"""The test harness itself, where a mistake in it would let other tests pass or fail for the wrong reason."""

from __future__ import annotations

import asyncio
import uuid

from . import harness


async def test_inbox_leaves_out_what_the_server_kept_for_an_offline_account(xmpp_server):
    """Accounts are shared by a session's tests: a message kept for an earlier test's session must not
    pass for one of this test's (an offer to agent2 once did)."""
    port = xmpp_server.ports.c2s
    kept = f"kept while offline {uuid.uuid4()}"
    async with harness.slix_client(port, "alice") as alice:
        alice.send_message(mto=f"eve@{harness.HOST}", mbody=kept, mtype="chat")
    async with harness.slix_client(port, "eve", presence=False) as eve:
        live, everything = harness.Inbox(eve), harness.Inbox(eve, offline_replays=True)
        eve.send_presence()  # the server replays what it kept on the first available presence
        replayed = await everything.next(lambda m: m["body"] == kept)
        assert replayed.xml.find("{urn:xmpp:delay}delay").get("from") == eve.boundjid.domain
        eve.send_message(mto=eve.boundjid.full, mbody="sent now", mtype="chat")
        assert (await live.next(lambda m: bool(m["body"])))["body"] == "sent now"


async def test_until_awaits_a_coroutine_predicate_and_says_what_it_waited_for():
    """A question to a server (ejabberd's route table) is asked again until its answer is truthy."""
    import pytest

    asked: list[int] = []

    async def answer() -> int:
        asked.append(1)
        return len(asked) if len(asked) >= 3 else 0

    assert await harness.until(answer, 5, "the third answer") == 3
    with pytest.raises(AssertionError, match="timed out waiting for nothing"):
        await harness.until(lambda: asyncio.sleep(0, result=0), 0.1, "nothing")
