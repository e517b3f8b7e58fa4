"""Messages that point at another one: XEP-0308 corrections and XEP-0444 reactions.

When a message is retracted or moderated, its corrections carry its edited text
and reactions still point at it; they go with it. A correction keeps only its
``<replace/>`` next to the tombstone (clients that apply corrections see the
chain retracted, not a new message); a reaction keeps only an empty
``<reactions/>`` (XEP-0444: no reaction left), so no client shows a stray entry.
"""

from __future__ import annotations

from typing import Iterable
from xml.etree.ElementTree import Element

from component import namespaces as xmlns

from .hooks import ArchiveRecord

NS_CORRECT = xmlns.CORRECT
NS_REACTIONS = xmlns.REACTIONS
REPLACE = f"{{{NS_CORRECT}}}replace"
REACTIONS = f"{{{NS_REACTIONS}}}reactions"
#: What a candidate row's text must contain (a cheap filter before parsing).
MARKERS = (NS_CORRECT, NS_REACTIONS)


def ids_of(record: ArchiveRecord) -> set[str]:
    """The ids others may use for a message: its archive id, the sender's id and origin-id."""
    return {i for i in (record.stanza_id, record.client_id, record.origin_id) if i}


def same_author(one: ArchiveRecord, other: ArchiveRecord) -> bool:
    if one.author and other.author:
        return one.author == other.author
    return bool(one.occupant_id) and one.occupant_id == other.occupant_id


def replacements(original: ArchiveRecord, candidates: Iterable[ArchiveRecord],
                 tombstone: list[Element]) -> list[tuple[str, list[Element]]]:
    """(archive id, new content) for every correction of ``original`` by its author (chains
    included, oldest first) and every reaction to it or to one of its corrections."""
    targets = ids_of(original)
    found: list[tuple[str, list[Element]]] = []
    for record in candidates:
        stanza = record.stanza
        assert isinstance(stanza, Element)
        replace = stanza.find(REPLACE)
        if replace is not None and replace.get("id") in targets and same_author(record, original):
            targets |= ids_of(record)  # a correction of this correction points at it
            found.append((record.stanza_id, [*tombstone, Element(REPLACE, {"id": replace.get("id", "")})]))
            continue
        reactions = stanza.find(REACTIONS)
        if reactions is not None and reactions.get("id") in targets:
            found.append((record.stanza_id, [Element(REACTIONS, {"id": reactions.get("id", "")})]))
    return found
