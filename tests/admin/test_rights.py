"""The rights plumbing with the support plugin answering ``admin.rights``: queue supervisors are
scoped to their queues, agents and customers get nothing; the support queue in the statistics."""

from __future__ import annotations

import pytest
from slixmpp.exceptions import IqError

from component.adhoc import Command, Context, Done, Scope, rights_scope
from component.forms import table

from .. import harness
from .client import Commands, fields, rows

pytestmark = pytest.mark.integration

SUPPORT = "support.localhost"
QUEUES = [{"name": "help", "agents": ["agent1@localhost"], "supervisors": ["super@localhost"]},
          {"name": "sales", "agents": ["agent2@localhost"], "supervisors": ["dave@localhost"]}]
PLUGINS = {"mam": {}, "support": {"queues": QUEUES}, "admin": {}}


class QueueReport(Command):
    """What a support command looks like on this plumbing: offered to supervisors, scoped."""

    node = "test-queue-report"
    name = "Queue report"
    scope = "queue"

    async def start(self, ctx: Context) -> Done:
        scope = await ctx.scope("queue")
        return Done(form=table([("queue", "Queue")], [{"queue": q} for q in scope.filter(["help", "sales"])]))


def client(prosody, user):
    return harness.slix_client(prosody.ports.c2s, user, plugins=("xep_0050",))


async def test_supervisors_are_scoped_to_their_queues(component, prosody):
    app = await component({SUPPORT: PLUGINS})
    service = app.services[SUPPORT]
    service.commands.register(QueueReport())
    assert await rights_scope(service, "admin@localhost", "queue") == Scope(everything=True)
    assert await rights_scope(service, "super@localhost", "queue") == Scope(names=frozenset({"help"}))
    assert not await rights_scope(service, "agent1@localhost", "queue")
    assert not await rights_scope(service, "super@localhost", "room")  # no rooms here
    async with client(prosody, "admin") as admin, client(prosody, "super") as sup, \
            client(prosody, "dave") as dave, client(prosody, "agent1") as agent, client(prosody, "cust1") as cust:
        assert [r["queue"] for r in rows(await Commands(admin, SUPPORT).execute(QueueReport.node))] == \
            ["help", "sales"]
        assert [r["queue"] for r in rows(await Commands(sup, SUPPORT).execute(QueueReport.node))] == ["help"]
        assert [r["queue"] for r in rows(await Commands(dave, SUPPORT).execute(QueueReport.node))] == ["sales"]
        assert QueueReport.node in await Commands(sup, SUPPORT).nodes()
        for user in (agent, cust):
            assert QueueReport.node not in await Commands(user, SUPPORT).nodes()
            with pytest.raises(IqError) as err:
                await Commands(user, SUPPORT).execute(QueueReport.node)
            assert (err.value.condition, err.value.iq["error"]["type"]) == ("forbidden", "auth")
        # Supervising a queue is no admin right on the service.
        for node in ("admin-stats", "admin-reload", "admin-log-level"):
            with pytest.raises(IqError) as err:
                await Commands(sup, SUPPORT).execute(node)
            assert err.value.condition == "forbidden"


async def test_statistics_count_waiting_customers(component, prosody):
    await component({SUPPORT: PLUGINS})
    async with client(prosody, "admin") as admin, client(prosody, "cust1") as cust:
        assert fields(await Commands(admin, SUPPORT).execute("admin-stats"))["queued_customers"] == "0"
        inbox = harness.Inbox(cust)
        cust.send_message(mto=f"help@{SUPPORT}", mbody="hello, I need help", mtype="chat")
        await inbox.next(lambda m: m["from"].bare == f"help@{SUPPORT}")  # the queue answered: queued
        assert fields(await Commands(admin, SUPPORT).execute("admin-stats"))["queued_customers"] == "1"
