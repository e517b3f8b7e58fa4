"""End to end: a queue closed and opened by hand while the component runs — from a shell
(``switchboard queues close|open|hours``) and with the ``support-queue-state`` command — and a
shell's ``switchboard kb import`` answered from by the running bot, without a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from slixmpp.exceptions import IqError

from .. import harness
from ..support.kit import HELP, agent_presence, agent_ready, body_has, checked, config, engine, jid, queue, until
from ..support_bot.kit import bot_config, live, plugin, zh_message
from ..test_cli_commands import run
from .kit import CMD, command
from .test_hours import queue_status

pytestmark = pytest.mark.integration


async def start_with_file(component, prosody, tmp_path: Path, services) -> tuple[object, str]:
    """The running component, and its configuration as a file for the shell's commands."""
    app = await component(services)
    path = tmp_path / "switchboard.toml"
    path.write_text(harness.make_config_text(prosody.ports.component, services, tmp_path / "state",
                                             harness.database_url(tmp_path)), encoding="utf-8")
    path.chmod(0o600)
    return app, str(path)


async def shell(*argv: str) -> tuple[int, str, str]:
    # The command line runs its own event loop, as it does from a terminal.
    return await asyncio.to_thread(run, *argv)


async def test_queue_closed_and_opened_from_a_shell_while_running(component, prosody, tmp_path):
    app, path = await start_with_file(component, prosody, tmp_path, config(queue()))
    support = engine(app)
    # Refused: an agent is not a supervisor; an unknown queue.
    code, _, err = await shell("queues", "close", "help", "--as", jid("agent1"), "-c", path)
    assert code == 1 and "not a supervisor of the queue help" in err, err
    code, _, err = await shell("queues", "close", "nowhere", "-c", path)
    assert code == 1 and "no queue nowhere" in err, err
    await asyncio.sleep(1.5)  # one poll of the running component: nothing was changed
    assert support.hours_override == {} and support.accepting("help")
    # The queue's supervisor closes it; the running component notices within seconds.
    code, _, err = await shell("queues", "close", "help", "--as", jid("super"), "-c", path)
    assert code == 0, err
    await until(lambda: support.hours_override.get("help") is False, timeout=5, what="the running queue closed")
    code, out, _ = await shell("queues", "show", "help", "--json", "-c", path)
    assert code == 0 and '"status": "closed"' in out
    port = prosody.ports.c2s
    async with harness.slix_client(port, "cust1") as zh, harness.slix_client(port, "cust2") as en:
        zin, ein = harness.Inbox(zh), harness.Inbox(en)
        zh_message(zh, HELP, "你好，我想退货")
        told = checked(await zin.next(live(body_has("暂时关闭", "留言"))))
        assert told["lang"] == "zh" and "服务时间" not in told["body"]
        # The operator opens it again: the next customer is queued as usual.
        code, _, err = await shell("queues", "open", "help", "-c", path)
        assert code == 0, err
        await until(lambda: support.hours_override.get("help") is True, timeout=5, what="the running queue opened")
        en.send_message(mto=HELP, mbody="Hello, where is my parcel?", mtype="chat")
        await ein.next(live(body_has("We will connect you with an agent")))
        await ein.quiet(live(body_has("closed")), wait=0.2)
    # Back to its business hours (none: always open); stored, so a restart keeps a choice.
    code, _, err = await shell("queues", "hours", "help", "-c", path)
    assert code == 0, err
    await until(lambda: "help" not in support.hours_override, timeout=5, what="the queue back to its hours")


async def test_queue_state_command_rights_and_english_closed_answer(component, prosody, tmp_path):
    app, path = await start_with_file(component, prosody, tmp_path, config(queue()))
    support = engine(app)
    port = prosody.ports.c2s
    async with harness.slix_client(port, "agent1") as agent, harness.slix_client(port, "super") as sup, \
            harness.slix_client(port, "cust1") as cust:
        cin, apres = harness.Inbox(cust), harness.Inbox(agent, kinds=("presence",))
        agent_presence(agent)
        await agent_ready(app, "agent1")
        # An agent of the queue may not run it.
        with pytest.raises(IqError) as err:
            await command(agent, HELP, "support-queue-state")
        assert err.value.condition == "forbidden"
        first = await command(sup, HELP, "support-queue-state")
        assert first.get("status") == "executing"
        done = await command(sup, HELP, "support-queue-state", action="complete",
                             sessionid=first.get("sessionid"), fields={"state": "closed"})
        assert done.get("status") == "completed"
        assert support.hours_override.get("help") is False
        # The agents online see the queue closed in its presence (XEP-0142), as at the end of its hours.
        pres = checked(await apres.next(lambda p: p["from"].bare == HELP and queue_status(p) == "closed"))
        assert pres["show"] == "xa"
        cust.send_message(mto=HELP, mbody="Hello?", mtype="chat")
        told = checked(await cin.next(live(body_has("closed for the moment"))))
        assert "Our hours" not in told["body"]
        # A bad state gets the form again with an error note, and the state stays.
        first = await command(sup, HELP, "support-queue-state")
        again = await command(sup, HELP, "support-queue-state", action="complete",
                              sessionid=first.get("sessionid"), fields={"state": "sometimes"})
        note = again.find(f"{{{CMD}}}note")
        assert again.get("status") == "executing" and note.get("type") == "error" and "open, closed or hours" in note.text
        assert support.hours_override.get("help") is False
    # Stored: the shell sees what the command chose.
    code, out, _ = await shell("queues", "show", "help", "--json", "-c", path)
    assert code == 0 and '"status": "closed"' in out


KB = "question,answer\nHow do I reset my locker code?,Hold the red button for ten seconds.\n"


async def test_kb_import_from_a_shell_is_answered_by_the_running_bot(component, prosody, tmp_path):
    app, path = await start_with_file(component, prosody, tmp_path, bot_config())
    bot = plugin(app)
    assert bot.kb.size("help") == 0
    (tmp_path / "kb.csv").write_text(KB, encoding="utf-8")
    code, out, err = await shell("kb", "import", str(tmp_path / "kb.csv"), "--queue", "help", "-c", path)
    assert code == 0, err
    await until(lambda: bot.kb.size("help") == 1, timeout=5, what="the running bot has the imported entry")
    async with harness.slix_client(prosody.ports.c2s, "cust1") as cust:
        cin = harness.Inbox(cust)
        cust.send_message(mto=HELP, mbody="how do I reset the locker code", mtype="chat")
        await cin.next(live(body_has("Hold the red button for ten seconds")))
