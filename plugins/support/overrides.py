"""A queue opened or closed by hand, on top of its business hours.

A supervisor of the queue (or an administrator) closes it for now (a meeting, an outage) or
opens it outside its hours, with the ``support-queue-state`` command at the queue's JID or
``switchboard queues open|close|hours QUEUE`` from a shell. The choice is stored
(``support_queue_overrides``), so it outlives a restart, and lasts until someone gives the
queue back to its hours. While closed by hand, the queue answers customers as out of hours
(messages are taken when the queue takes them), with its own words saying it is closed for now.

The shell's process and the running component share only the database: the writer records a
change (component/peers.py) in the same transaction, and the running component reloads the
queue's state from the database when it hears of it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Float, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from component.adhoc import Context, Done, FormError, FormStep
from component.forms import new_form
from component.storage import Base, Database, create_tables

from .adhoc import _t
from .ops_commands import _QueueCommand

if TYPE_CHECKING:
    from .plugin import SupportPlugin

#: What a change to a queue's state is announced on (payload: "<domain> <queue>").
CHANNEL = "switchboard_support_queue"
#: The states one can set: open or closed by hand, or back to the business hours.
STATES = ("open", "closed", "hours")


class SupportQueueOverride(Base):
    __tablename__ = "support_queue_overrides"

    domain: Mapped[str] = mapped_column(String(1023), primary_key=True)
    queue: Mapped[str] = mapped_column(String(1023), primary_key=True)
    open: Mapped[bool] = mapped_column(Boolean)
    by: Mapped[str] = mapped_column(String(3071))
    at: Mapped[float] = mapped_column(Float)


#: Migration step 3 of the support plugin.
create_overrides = create_tables("support_queue_overrides")


async def load(db: Database, domain: str, queue: str | None = None) -> dict[str, bool]:
    """{queue: open?} of the queues set by hand (one queue, or all of the domain)."""
    query = select(SupportQueueOverride.queue, SupportQueueOverride.open).where(SupportQueueOverride.domain == domain)
    if queue is not None:
        query = query.where(SupportQueueOverride.queue == queue)
    async with db.session() as session:
        return {name: bool(is_open) for name, is_open in await session.execute(query)}


async def store(plugin: "SupportPlugin", queue: str, state: str, by: str) -> None:
    """Record ``state`` (open, closed, hours) and tell the running processes, in one transaction."""
    domain = plugin.service.domain
    async with plugin.db.session() as session:
        await session.execute(delete(SupportQueueOverride).where(SupportQueueOverride.domain == domain,
                                                                 SupportQueueOverride.queue == queue))
        if state != "hours":
            session.add(SupportQueueOverride(domain=domain, queue=queue, open=state == "open", by=by, at=time.time()))
        peers = getattr(plugin.service.app, "peers", None)
        if peers is not None:
            await peers.notify(session, CHANNEL, f"{domain} {queue}")


def state_of(plugin: "SupportPlugin", queue: str) -> str:
    override = plugin.engine.hours_override.get(queue)
    return "hours" if override is None else ("open" if override else "closed")


async def reload(plugin: "SupportPlugin", payload: str) -> None:
    """Another process changed a queue's state: take it from the database and tell the agents."""
    domain, _, queue = payload.partition(" ")
    if domain != plugin.service.domain or queue not in plugin.engine.queues:
        return
    found = await load(plugin.db, domain, queue)
    apply(plugin, queue, found.get(queue))


def apply(plugin: "SupportPlugin", queue: str, override: bool | None) -> None:
    engine = plugin.engine
    if override is None:
        engine.hours_override.pop(queue, None)
    else:
        engine.hours_override[queue] = override
    plugin.ops.queue_state_changed(queue)


async def start(plugin: "SupportPlugin") -> None:
    """At setup: the states stored, and listening for changes made elsewhere."""
    plugin.engine.hours_override.update(await load(plugin.db, plugin.service.domain))
    peers = getattr(plugin.service.app, "peers", None)
    if peers is not None:
        await peers.listen(CHANNEL, lambda payload: reload(plugin, payload))


async def set_state(plugin: "SupportPlugin", queue: str, state: str, by: str) -> None:
    """Stored, then applied here (other processes apply it when told)."""
    await store(plugin, queue, state, by)
    apply(plugin, queue, None if state == "hours" else state == "open")


class QueueStateCommand(_QueueCommand):
    """``support-queue-state``: open or close a queue now, or give it back to its hours."""

    node = "support-queue-state"
    name = "Open or close the queue"
    name_zh = "开启或关闭队列"
    supervisors_only = True

    async def start(self, ctx: Context) -> FormStep:
        queue = self.queue(ctx)
        engine = self.plugin.engine
        form = new_form(_t(ctx, "Open or close the queue", "开启或关闭队列"),
                        _t(ctx, f"Now: {'open' if engine.accepting(queue) else 'closed'}.",
                           f"当前：{'开放' if engine.accepting(queue) else '关闭'}。"))
        field = form.add_field(var="state", ftype="list-single", label=_t(ctx, "State", "状态"), required=True,
                               value=state_of(self.plugin, queue))
        field.add_option(label=_t(ctx, "Open now", "立即开放"), value="open")
        field.add_option(label=_t(ctx, "Closed now (customers may leave a message)", "立即关闭（客户可留言）"),
                         value="closed")
        field.add_option(label=_t(ctx, "By business hours", "按服务时间"), value="hours")
        return FormStep(form, self.submit, final=True)

    async def submit(self, ctx: Context, values: dict[str, Any]) -> Done:
        queue = self.queue(ctx)
        state = str(values.get("state") or "")
        if state not in STATES:
            raise FormError(_t(ctx, "State: open, closed or hours.", "状态：open、closed 或 hours。"))
        await set_state(self.plugin, queue, state, ctx.requester.bare)
        return Done(note=_t(ctx, f"{queue}: {state}.", f"{queue}：{state}。"))
