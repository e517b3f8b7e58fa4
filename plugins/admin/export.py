"""Reading a room's archive for export and statistics, through the archive's public service.

Exports are written incrementally (a page of the archive at a time), so the
CLI can stream millions of messages to a file with a progress bar and the
command can stop at its inline limit.

Formats:
- ``xml``: XEP-0227's ``<archive xmlns='urn:xmpp:pie:0#mam'>`` holding XEP-0313
  ``<result xmlns='urn:xmpp:mam:2' id='…'><forwarded><delay stamp/><message/></forwarded></result>``
  items, i.e. exactly what a MAM query returns, importable by servers that read XEP-0227.
- ``json``: ``{"archive": JID, "exported": stamp, "messages": [{id, timestamp, from, nick,
  author?, occupant_id, body, retracted, xml}, …]}``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, AsyncIterator, Callable
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from component import namespaces as xmlns

PIE_MAM = xmlns.PIE_MAM
MAM = xmlns.MAM
FORWARD = xmlns.FORWARD
DELAY = xmlns.DELAY
CLIENT = xmlns.CLIENT
MUC_USER = xmlns.MUC_USER
RETRACT = xmlns.RETRACT
FORMATS = ("xml", "json")
PAGE = 500


def query_spec(**fields: Any) -> Any:
    """The archive's query description (its public ``query()`` takes one)."""
    try:
        from plugins.mam.hooks import QuerySpec  # type: ignore[attr-defined]
    except ImportError:
        from plugins.mam.stanza import QuerySpec
    return QuerySpec(**fields)


def stamp(timestamp: float) -> str:
    moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


async def count(archive: Any, room: str, *, start: float | None = None, end: float | None = None,
                author: str | None = None) -> int:
    """Messages of a room's archive in a time range and/or by one real JID."""
    if start is None and end is None and author is None:
        return await archive.count(room)
    page = await archive.query(room, query_spec(start=start, end=end, with_jid=author, max=0),
                               real_jids=author is not None)
    return page.count


async def records(archive: Any, room: str, *, start: float | None = None, end: float | None = None,
                  limit: int | None = None) -> AsyncIterator[Any]:
    """The room's archived records, oldest first, a page at a time."""
    after: str | None = None
    sent = 0
    while True:
        size = PAGE if limit is None else min(PAGE, limit - sent)
        if size <= 0:
            return
        page = await archive.query(room, query_spec(start=start, end=end, after=after, max=size),
                                   real_jids=True, page_size=size)
        for record in page.records:
            yield record
        sent += len(page.records)
        if page.complete or not page.records:
            return
        after = page.records[-1].stanza_id


def _message(record: Any) -> ET.Element:
    stanza = record.stanza
    return ET.fromstring(stanza) if isinstance(stanza, str) else stanza


def _body(message: ET.Element) -> str:
    body = message.find(f"{{{CLIENT}}}body")
    return body.text or "" if body is not None else ""


class Writer:
    """Serializes records into one export document, piece by piece."""

    def __init__(self, fmt: str, room: str, real_jids: bool, write: Callable[[str], Any]) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
        self.fmt = fmt
        self.room = room
        self.real_jids = real_jids
        self._write = write
        self.count = 0
        self.chars = 0

    def write(self, text: str) -> None:
        self.chars += len(text)
        self._write(text)

    def begin(self) -> None:
        exported = stamp(dt.datetime.now(dt.timezone.utc).timestamp())
        if self.fmt == "xml":
            self.write(f"<archive xmlns='{PIE_MAM}' jid={quoteattr(self.room)} exported='{exported}'>\n")
        else:
            self.write('{"archive": ' + json.dumps(self.room) + ', "exported": ' + json.dumps(exported)
                       + ', "messages": [\n')

    def add(self, record: Any) -> None:
        message = _message(record)
        if self.fmt == "xml":
            self.write(self._xml(record, message) + "\n")
        else:
            self.write((",\n" if self.count else "") + json.dumps(self._json(record, message), ensure_ascii=False))
        self.count += 1

    def end(self) -> None:
        self.write("</archive>\n" if self.fmt == "xml" else "\n]}\n")

    def _xml(self, record: Any, message: ET.Element) -> str:
        if self.real_jids and record.author and message.find(f"{{{MUC_USER}}}x") is None:
            x = ET.SubElement(message, f"{{{MUC_USER}}}x")
            ET.SubElement(x, f"{{{MUC_USER}}}item", {"jid": record.author})
        result = ET.Element(f"{{{MAM}}}result", {"id": record.stanza_id})
        forwarded = ET.SubElement(result, f"{{{FORWARD}}}forwarded")
        ET.SubElement(forwarded, f"{{{DELAY}}}delay", {"stamp": stamp(record.timestamp)})
        forwarded.append(message)
        return _compact(result)

    def _json(self, record: Any, message: ET.Element) -> dict[str, Any]:
        sender = message.get("from", "")
        item: dict[str, Any] = {
            "id": record.stanza_id,
            "timestamp": stamp(record.timestamp),
            "from": sender,
            "nick": sender.partition("/")[2],
            "occupant_id": record.occupant_id,
            "body": "" if record.retracted else _body(message),
            "retracted": bool(record.retracted),
        }
        if self.real_jids and record.author:
            item["author"] = record.author
        item["xml"] = record.stanza if isinstance(record.stanza, str) else _compact(message)
        return item


def _compact(element: ET.Element) -> str:
    """Serialize with each namespace declared once where it starts (no ns0: prefixes)."""
    return "".join(_serialize(element, None))


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def _serialize(element: ET.Element, parent_ns: str | None) -> list[str]:
    ns, name = _split(element.tag)
    attrs = []
    if ns != parent_ns:
        attrs.append(f" xmlns={quoteattr(ns)}")
    for key, value in element.attrib.items():
        kns, kname = _split(key)
        if kns == xmlns.XML:
            kname = "xml:" + kname
        attrs.append(f" {kname}={quoteattr(value)}")
    out = [f"<{name}{''.join(attrs)}"]
    if not len(element) and not element.text:
        out.append("/>")
    else:
        out.append(">")
        if element.text:
            out.append(escape(element.text))
        for child in element:
            out.extend(_serialize(child, ns))
            if child.tail:
                out.append(escape(child.tail))
        out.append(f"</{name}>")
    return out


async def export(archive: Any, room: str, fmt: str, write: Callable[[str], Any], *, real_jids: bool,
                 start: float | None = None, end: float | None = None, limit: int | None = None,
                 max_chars: int | None = None, progress: Callable[[int], Any] | None = None) -> int:
    """Write a room's archive as one document; returns how many messages it holds.

    ``limit`` / ``max_chars``: stop after that many messages / once that much text is written.
    """
    writer = Writer(fmt, room, real_jids, write)
    writer.begin()
    async for record in records(archive, room, start=start, end=end, limit=limit):
        writer.add(record)
        if progress is not None:
            progress(writer.count)
        if max_chars is not None and writer.chars >= max_chars:
            break
    writer.end()
    return writer.count
