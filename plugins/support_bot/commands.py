"""Knowledge-base management as XEP-0050 commands (for global admins, and a queue's agents and supervisors).

list, add, edit, delete, import (CSV or JSON, merge or replace, with a
confirmation stage), export (JSON) and "try a question" (what the bot would do).
Each command offers only the queues the requester may manage and refuses
entries of other queues as if they did not exist.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from component.adhoc import Command, Context, Done, FormError, FormStep, add_confirmation, require_confirmation
from component.forms import Form, new_form, table

from . import dialogue as dlg
from .analysis import normalize
from .kb_import import Draft, draft_from, parse, to_json
from .service import KnowledgeBaseError

if TYPE_CHECKING:
    from .plugin import SupportBotPlugin

MAX_SHOWN = 500
PREVIEW = 5
#: Characters of JSON an export puts in one answer (servers limit stanza sizes, often to 256 kB).
EXPORT_LIMIT = 200_000


def _lines(value: Any) -> list[str]:
    if isinstance(value, list):
        text = "\n".join(str(v) for v in value)
    else:
        text = str(value or "")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _text(value: Any) -> str:
    return "\n".join(value) if isinstance(value, list) else str(value or "")


def _matching(entries: list[Any], contains: str) -> list[Any]:
    needle = normalize(contains).strip()
    if not needle:
        return entries
    return [e for e in entries if needle in normalize(" ".join((e.question, e.answer, *e.alternatives, *e.keywords)))]


class _KbCommand(Command):
    def __init__(self, plugin: "SupportBotPlugin") -> None:
        self.plugin = plugin

    @property
    def kb(self):  # type: ignore[no-untyped-def]
        return self.plugin.kb

    def queues(self, ctx: Context) -> list[str]:
        if "queues" not in ctx.state:
            ctx.state["queues"] = self.plugin.staff.queues(ctx.requester)
        return ctx.state["queues"]

    def allowed(self, ctx: Context) -> bool:
        return bool(self.queues(ctx))

    def queue_field(self, ctx: Context, form: Form, value: str = "") -> None:
        queues = self.queues(ctx)
        form.add_field(var="queue", ftype="list-single", label=ctx.text("Queue", "队列"), required=True,
                       options=[{"label": q, "value": q} for q in queues],
                       value=value or (queues[0] if len(queues) == 1 else ""))

    def queue_of(self, ctx: Context, values: dict[str, Any]) -> str:
        queue = str(values.get("queue") or "").strip()
        if queue not in self.queues(ctx):
            raise FormError(ctx.text("Choose one of your queues.", "请选择您负责的队列。"))
        return queue

    def entry_fields(self, ctx: Context, form: Form, draft: Draft | None = None) -> None:
        form.add_field(var="question", ftype="text-single", label=ctx.text("Question", "问题"), required=True,
                       value=draft.question if draft else "")
        form.add_field(var="alternatives", ftype="text-multi",
                       label=ctx.text("Other ways to ask (one per line)", "相似问法（每行一个）"),
                       value="\n".join(draft.alternatives) if draft else "")
        form.add_field(var="answer", ftype="text-multi", label=ctx.text("Answer", "答案"), required=True,
                       value=draft.answer if draft else "")
        form.add_field(var="keywords", ftype="text-single", label=ctx.text("Keywords (comma separated)", "关键词（逗号分隔）"),
                       value=", ".join(draft.keywords) if draft else "")
        form.add_field(var="lang", ftype="list-single", label=ctx.text("Language", "语言"),
                       options=[{"label": ctx.text("any", "不限"), "value": "any"},
                                {"label": "English", "value": "en"}, {"label": "中文", "value": "zh"}],
                       value=(draft.lang or "any") if draft else "any")

    @staticmethod
    def draft_of(ctx: Context, values: dict[str, Any]) -> Draft:
        lang = str(values.get("lang") or "any")
        try:
            return draft_from({"question": _text(values.get("question")).strip(),
                               "answer": _text(values.get("answer")).strip(),
                               "alternatives": _lines(values.get("alternatives")),
                               "keywords": _text(values.get("keywords")),
                               "lang": "" if lang == "any" else lang})
        except ValueError as exc:
            raise FormError(ctx.text(f"Invalid entry: {exc}.", f"条目无效：{exc}。")) from exc

    def owned_entry(self, ctx: Context, entry_id: str) -> Any:
        entry = self.kb.get(entry_id.strip())
        if entry is None or entry.queue not in self.queues(ctx):
            raise FormError(ctx.text(f"There is no entry {entry_id.strip()!r} in your queues.",
                                     f"您负责的队列中没有条目 {entry_id.strip()!r}。"))
        return entry


class ListEntries(_KbCommand):
    node = "support-bot-kb-list"
    name = "Knowledge base: list entries"
    name_zh = "知识库：查看条目"

    async def start(self, ctx: Context) -> FormStep:
        form = new_form(self.title(ctx.lang))
        self.queue_field(ctx, form)
        form.add_field(var="contains", ftype="text-single", label=ctx.text("Containing (optional)", "包含文字（可选）"))
        form.add_field(var="limit", ftype="text-single", label=ctx.text("At most", "最多显示"), value="50")
        return FormStep(form, self.show, final=True)

    async def show(self, ctx: Context, values: dict[str, Any]) -> Done:
        queue = self.queue_of(ctx, values)
        try:
            limit = max(1, min(MAX_SHOWN, int(str(values.get("limit") or "50"))))
        except ValueError as exc:
            raise FormError(ctx.text("'At most' is a number.", "“最多显示”须为数字。")) from exc
        # Normalising every entry of a large knowledge base takes a while: not on the event loop.
        entries = await asyncio.to_thread(_matching, self.kb.entries(queue), str(values.get("contains") or ""))
        rows = [{"id": e.id, "question": e.question, "alternatives": " | ".join(e.alternatives),
                 "answer": e.answer if len(e.answer) <= 200 else e.answer[:199] + "…",
                 "keywords": ", ".join(e.keywords), "lang": e.lang} for e in entries[:limit]]
        columns = [("id", "Id"), ("question", ctx.text("Question", "问题")),
                   ("alternatives", ctx.text("Other ways to ask", "相似问法")), ("answer", ctx.text("Answer", "答案")),
                   ("keywords", ctx.text("Keywords", "关键词")), ("lang", ctx.text("Language", "语言"))]
        note = ctx.text(f"{len(rows)} of {len(entries)} entries in {queue}.",
                        f"{queue} 共 {len(entries)} 条，显示 {len(rows)} 条。")
        return Done(note=note, form=table(columns, rows, title=self.title(ctx.lang)))


class AddEntry(_KbCommand):
    node = "support-bot-kb-add"
    name = "Knowledge base: add an entry"
    name_zh = "知识库：添加条目"

    async def start(self, ctx: Context) -> FormStep:
        form = new_form(self.title(ctx.lang))
        self.queue_field(ctx, form)
        self.entry_fields(ctx, form)
        return FormStep(form, self.add, final=True)

    async def add(self, ctx: Context, values: dict[str, Any]) -> Done:
        queue = self.queue_of(ctx, values)
        draft = self.draft_of(ctx, values)
        try:
            entry = await self.kb.add(queue, draft, ctx.requester.bare)
        except KnowledgeBaseError as exc:
            raise FormError(str(exc)) from exc
        return Done(note=ctx.text(f"Added entry {entry.id} to {queue}.", f"已在 {queue} 添加条目 {entry.id}。"))


class EditEntry(_KbCommand):
    node = "support-bot-kb-edit"
    name = "Knowledge base: edit an entry"
    name_zh = "知识库：修改条目"

    async def start(self, ctx: Context) -> FormStep:
        form = new_form(self.title(ctx.lang), ctx.text("The id is shown by the list command.", "条目编号可在“查看条目”中找到。"))
        form.add_field(var="entry", ftype="text-single", label=ctx.text("Entry id", "条目编号"), required=True)
        return FormStep(form, self.choose)

    async def choose(self, ctx: Context, values: dict[str, Any]) -> FormStep:
        entry = self.owned_entry(ctx, str(values.get("entry") or ""))
        ctx.state["entry"] = entry.id
        form = new_form(self.title(ctx.lang),
                        ctx.text(f"Entry {entry.id} of {entry.queue}", f"{entry.queue} 的条目 {entry.id}"))
        self.entry_fields(ctx, form,
                          Draft(entry.question, entry.answer, entry.alternatives, entry.keywords, entry.lang))
        return FormStep(form, self.save, final=True)

    async def save(self, ctx: Context, values: dict[str, Any]) -> Done:
        entry = self.owned_entry(ctx, ctx.state["entry"])
        draft = self.draft_of(ctx, values)
        try:
            await self.kb.update(entry.id, draft, ctx.requester.bare, queue=entry.queue)
        except KnowledgeBaseError as exc:
            raise FormError(str(exc)) from exc
        return Done(note=ctx.text(f"Entry {entry.id} updated.", f"条目 {entry.id} 已更新。"))


class DeleteEntries(_KbCommand):
    node = "support-bot-kb-delete"
    name = "Knowledge base: delete entries"
    name_zh = "知识库：删除条目"

    async def start(self, ctx: Context) -> FormStep:
        form = new_form(self.title(ctx.lang))
        form.add_field(var="entries", ftype="text-multi", label=ctx.text("Entry ids (one per line)", "条目编号（每行一个）"),
                       required=True)
        add_confirmation(form, ctx.text("Yes, delete them", "确认删除"))
        return FormStep(form, self.delete, final=True)

    async def delete(self, ctx: Context, values: dict[str, Any]) -> Done:
        ids = [token for line in _lines(values.get("entries")) for token in line.replace(",", " ").split()]
        require_confirmation(ctx, values, "Tick the confirmation to delete.", "请勾选“确认删除”。")
        for entry_id in ids:
            self.owned_entry(ctx, entry_id)  # all or nothing: unknown ids are reported first
        deleted = await self.kb.delete(ids, set(self.queues(ctx)))
        return Done(note=ctx.text(f"Deleted {len(deleted)} entries.", f"已删除 {len(deleted)} 个条目。"))


class ImportEntries(_KbCommand):
    node = "support-bot-kb-import"
    name = "Knowledge base: import CSV or JSON"
    name_zh = "知识库：导入 CSV 或 JSON"

    async def start(self, ctx: Context) -> FormStep:
        form = new_form(self.title(ctx.lang), ctx.text(
            "CSV with a header row (question, answer, alternatives, keywords, lang) or JSON "
            "([{\"question\": …, \"answer\": …}, …]). Merge updates entries with the same question.",
            "CSV 首行为表头（问题、答案、相似问题、关键词、语言），或 JSON（[{\"question\": …, \"answer\": …}, …]）。"
            "合并模式会更新问题相同的条目。"))
        self.queue_field(ctx, form)
        form.add_field(var="format", ftype="list-single", label=ctx.text("Format", "格式"), value="auto",
                       options=[{"label": ctx.text("detect", "自动识别"), "value": "auto"},
                                {"label": "CSV", "value": "csv"}, {"label": "JSON", "value": "json"}])
        form.add_field(var="mode", ftype="list-single", label=ctx.text("Mode", "模式"), value="merge",
                       options=[{"label": ctx.text("merge into the knowledge base", "合并到现有知识库"), "value": "merge"},
                                {"label": ctx.text("replace the whole knowledge base", "替换整个知识库"),
                                 "value": "replace"}])
        form.add_field(var="data", ftype="text-multi", label=ctx.text("File content", "文件内容"), required=True)
        return FormStep(form, self.preview)

    async def preview(self, ctx: Context, values: dict[str, Any]) -> FormStep:
        queue = self.queue_of(ctx, values)
        fmt = str(values.get("format") or "auto")
        mode = str(values.get("mode") or "merge")
        if fmt not in ("auto", "csv", "json") or mode not in ("merge", "replace"):
            raise FormError(ctx.text("Choose a format and a mode from the lists.", "请从列表中选择格式和模式。"))
        parsed = parse(_text(values.get("data")), fmt)
        if parsed.errors:
            shown = "; ".join(parsed.errors[:PREVIEW]) + (" …" if len(parsed.errors) > PREVIEW else "")
            raise FormError(ctx.text(f"{len(parsed.errors)} problem(s), nothing imported: {shown}",
                                     f"发现 {len(parsed.errors)} 处问题，未导入：{shown}"))
        if not parsed.drafts:
            raise FormError(ctx.text("The file holds no entries.", "文件中没有条目。"))
        ctx.state.update(queue=queue, mode=mode, drafts=parsed.drafts)
        summary = ctx.text(f"{len(parsed.drafts)} entries read for {queue}; it holds {self.kb.size(queue)} now; "
                           f"mode: {mode}.",
                           f"读取到 {len(parsed.drafts)} 个条目，导入 {queue}（现有 {self.kb.size(queue)} 条），"
                           f"模式：{'替换' if mode == 'replace' else '合并'}。")
        form = new_form(self.title(ctx.lang), summary)
        form.add_field(var="first", ftype="text-multi", label=ctx.text("First questions", "前几个问题"),
                       value="\n".join(d.question for d in parsed.drafts[:PREVIEW]))
        add_confirmation(form, ctx.text("Import them", "确认导入"))
        return FormStep(form, self.commit, final=True)

    async def commit(self, ctx: Context, values: dict[str, Any]) -> Done:
        require_confirmation(ctx, values, "Tick the confirmation to import.", "请勾选“确认导入”。")
        queue = ctx.state["queue"]
        if queue not in self.queues(ctx):
            raise FormError(ctx.text("Choose one of your queues.", "请选择您负责的队列。"))
        try:
            summary = await self.kb.import_(queue, ctx.state["drafts"], ctx.requester.bare,
                                            replace=ctx.state["mode"] == "replace")
        except KnowledgeBaseError as exc:
            raise FormError(str(exc)) from exc
        return Done(note=ctx.text(
            f"Imported into {queue}: {summary.added} added, {summary.updated} updated, {summary.removed} replaced; "
            f"{summary.total} entries now.",
            f"已导入 {queue}：新增 {summary.added}，更新 {summary.updated}，替换 {summary.removed}；现有 {summary.total} 条。"))


class ExportEntries(_KbCommand):
    node = "support-bot-kb-export"
    name = "Knowledge base: export as JSON"
    name_zh = "知识库：导出 JSON"

    async def start(self, ctx: Context) -> FormStep:
        form = new_form(self.title(ctx.lang))
        self.queue_field(ctx, form)
        form.add_field(var="contains", ftype="text-single", label=ctx.text("Containing (optional)", "包含文字（可选）"))
        return FormStep(form, self.export, final=True)

    async def export(self, ctx: Context, values: dict[str, Any]) -> Done:
        queue = self.queue_of(ctx, values)
        entries = await asyncio.to_thread(_matching, self.kb.entries(queue), str(values.get("contains") or ""))
        data = await asyncio.to_thread(to_json, entries)
        if len(data) > EXPORT_LIMIT:
            raise FormError(ctx.text(
                f"{len(entries)} entries make {len(data)} characters, too many for one answer; export a part "
                f"with 'Containing'.", f"{len(entries)} 个条目共 {len(data)} 字符，超出单条消息上限；请用“包含文字”分批导出。"))
        form = new_form(self.title(ctx.lang), form_type="result")
        form.add_field(var="data", ftype="text-multi", label="JSON", value=data)
        return Done(note=ctx.text(f"{len(entries)} entries.", f"共 {len(entries)} 个条目。"), form=form)


class TryQuestion(_KbCommand):
    node = "support-bot-kb-try"
    name = "Knowledge base: try a question"
    name_zh = "知识库：测试提问"

    async def start(self, ctx: Context) -> FormStep:
        form = new_form(self.title(ctx.lang), ctx.text("Shows what the bot would do with this question.",
                                                        "显示智能助手会如何处理这个问题。"))
        self.queue_field(ctx, form)
        form.add_field(var="question", ftype="text-single", label=ctx.text("Question", "问题"), required=True)
        return FormStep(form, self.answer, final=True)

    async def answer(self, ctx: Context, values: dict[str, Any]) -> Done:
        queue = self.queue_of(ctx, values)
        question = _text(values.get("question")).strip()
        policy = self.plugin.engine.policy
        conv = dlg.Conversation("try", queue, ctx.requester.bare, "zh" if ctx.zh() else "en", 0.0)
        step = dlg.decide(conv, question, self.kb.index(queue), policy)
        hits = step.hits if isinstance(step, (dlg.AskLlm, dlg.Handoff)) else self.kb.search(queue, question,
                                                                                           policy.suggestions)
        if isinstance(step, dlg.AskLlm):
            verdict = ctx.text("ask the LLM with these entries (knowledge-base rules if it fails)",
                               "交给大模型依据这些条目回答（失败时按知识库规则）")
        elif isinstance(step, dlg.Answer):
            verdict = ctx.text(f"answer with entry {step.entry.id}", f"用条目 {step.entry.id} 回答")
        elif isinstance(step, dlg.Suggest):
            verdict = ctx.text("suggest the closest questions", "列出相近问题供选择")
        elif isinstance(step, dlg.Handoff):
            verdict = ctx.text(f"hand off ({step.reason})", f"转人工（{step.reason}）")
        else:
            verdict = ctx.text("greet and ask for the question", "问候并请客户提问")
        rows = [{"id": h.entry.id, "question": h.entry.question, "confidence": f"{h.confidence:.2f}",
                 "matched": h.phrasing} for h in hits]
        columns = [("id", "Id"), ("question", ctx.text("Question", "问题")),
                   ("confidence", ctx.text("Confidence", "置信度")), ("matched", ctx.text("Matched", "匹配问法"))]
        return Done(note=ctx.text(f"The bot would {verdict}.", f"智能助手会：{verdict}。"),
                    form=table(columns, rows, title=self.title(ctx.lang)))


ALL = (ListEntries, AddEntry, EditEntry, DeleteEntries, ImportEntries, ExportEntries, TryQuestion)

