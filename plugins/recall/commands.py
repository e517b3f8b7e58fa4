"""Ad-hoc commands of the recall plugin."""

from __future__ import annotations

import datetime as dt
from typing import Any

from component.adhoc import Command, Context, Done, FormStep
from component.forms import new_form, table

from .store import RecallStore

COLUMNS_EN = (("at", "When"), ("archive", "Archive"), ("stanza_id", "Message id"), ("actor", "Removed by"),
              ("author", "Author"), ("moderated", "Moderated"), ("reason", "Reason"))
COLUMNS_ZH = (("at", "时间"), ("archive", "存档"), ("stanza_id", "消息 id"), ("actor", "操作人"),
              ("author", "发送者"), ("moderated", "审核删除"), ("reason", "原因"))


class AuditCommand(Command):
    """Service admins: the latest removals (never their content), optionally for one archive."""

    node = "recall-audit"
    name = "Removed messages (audit)"
    name_zh = "已删除消息（审计）"

    def __init__(self, store: RecallStore) -> None:
        self.store = store

    async def start(self, ctx: Context) -> FormStep:
        zh = ctx.zh()
        form = new_form(title=self.title(ctx.lang))
        form.add_field(var="archive", ftype="jid-single",
                       label="房间或会话（留空：全部）" if zh else "Room or conversation (empty: all)")
        form.add_field(var="limit", ftype="text-single", label="条数" if zh else "How many", value="50")
        return FormStep(form, self.show, final=True)

    async def show(self, ctx: Context, values: dict[str, Any]) -> Done:
        archive = values.get("archive")
        try:
            limit = max(1, min(500, int(str(values.get("limit") or "50"))))
        except ValueError:
            limit = 50
        entries = await self.store.audit_entries(str(archive) if archive else None, limit)
        rows = [{"at": dt.datetime.fromtimestamp(e.at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"),
                 "archive": e.archive, "stanza_id": e.stanza_id, "actor": e.actor, "author": e.author,
                 "moderated": "yes" if e.moderated else "no", "reason": e.reason} for e in entries]
        columns = COLUMNS_ZH if ctx.zh() else COLUMNS_EN
        return Done(form=table(columns, rows, title=self.title(ctx.lang)))
