"""A second, strict client implementation (aioxmpp's XEP-0050 and XEP-0004 parsers) drives the
commands: what generic form-rendering clients get must parse and work there too."""

from __future__ import annotations

import aioxmpp
import aioxmpp.adhoc
import aioxmpp.adhoc.xso as adhoc_xso
import aioxmpp.forms
import pytest

from . import aiox
from .rooms_setup import DOMAIN, LOBBY, ROOM_NODES, start

pytestmark = pytest.mark.integration


def values(form: aioxmpp.forms.Data) -> dict[str, list[str]]:
    return {f.var: list(f.values) for f in form.fields if f.var}


def fill(form: aioxmpp.forms.Data, **answers: str) -> aioxmpp.forms.Data:
    """Answer a form as a client does: the same fields, type submit."""
    form.type_ = aioxmpp.forms.DataType.SUBMIT
    for field in form.fields:
        if field.var in answers:
            field.values[:] = [answers[field.var]]
    return form


async def test_aioxmpp_lists_and_runs_a_multi_stage_command(component, prosody):
    app = await start(component, prosody)
    archive = app.services[DOMAIN].hooks.service("archive")
    domain = aioxmpp.JID.fromstr(DOMAIN)
    async with aiox.client(prosody.ports.c2s, "admin") as xmpp:
        adhoc = xmpp.summon(aioxmpp.adhoc.AdHocClient)
        assert ROOM_NODES <= {item.node for item in await adhoc.get_commands(domain)}

        session = await adhoc.execute(domain, "room-purge")
        assert session.status == adhoc_xso.CommandStatus.EXECUTING
        assert adhoc_xso.ActionType.NEXT in session.allowed_actions
        form = session.first_payload
        assert isinstance(form, aioxmpp.forms.Data) and form.type_ == aioxmpp.forms.DataType.FORM
        room_field = next(f for f in form.fields if f.var == "room")
        assert room_field.type_ == aioxmpp.forms.FieldType.LIST_SINGLE and LOBBY in room_field.options
        preview = await session.proceed(action=adhoc_xso.ActionType.NEXT,
                                        payload=fill(form, room=LOBBY, mode="author", author="bob@localhost"))
        assert "2 message(s)" in values(preview)["summary"][0]
        assert {adhoc_xso.ActionType.PREV, adhoc_xso.ActionType.COMPLETE} <= set(session.allowed_actions)
        back = await session.proceed(action=adhoc_xso.ActionType.PREV)
        assert values(back)["author"] == ["bob@localhost"]
        await session.close()  # cancels
        assert await archive.count(LOBBY) == 5

        session = await adhoc.execute(domain, "admin-stats")
        assert session.status == adhoc_xso.CommandStatus.COMPLETED
        assert session.first_payload.type_ == aioxmpp.forms.DataType.RESULT
        assert values(session.first_payload)["rooms"] == ["2"]

        session = await adhoc.execute(domain, "rooms-list")
        table = session.first_payload
        assert [f.var for f in table.reported.fields] == ["room", "name", "occupants", "persistent", "public",
                                                         "archive"]
        assert len(table.items) == 2
