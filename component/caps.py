"""XEP-0115 entity capabilities: what a client speaks, learned once per client version, not per session.

A client's presence carries ``<c hash='sha-1' node='…' ver='…'/>``: the hash of its disco#info.
Sessions of the same client software share one ``ver``, so the answer of the first one asked
serves the others: five hundred agents coming back after an outage cost one disco#info question,
not five hundred. An answer is kept only when it hashes to the ``ver`` it was asked for (the
XEP's verification, so one client cannot poison what is believed of others), and a question for
a ``ver`` already on its way is waited for, not asked again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections import OrderedDict
from typing import Awaitable, Callable, NamedTuple
from xml.etree.ElementTree import Element

from . import namespaces as xmlns

log = logging.getLogger("switchboard.caps")

#: Hash functions by their IANA names, as XEP-0115 names them in ``hash``.
HASHES = {"sha-1": "sha1", "sha-224": "sha224", "sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512"}
#: Client versions remembered (the least recently used go first).
CACHE_SIZE = 1000
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


class Caps(NamedTuple):
    hash: str
    node: str
    ver: str


def of_presence(presence: Element) -> Caps | None:
    """The presence's capabilities, when given in the XEP's current form (legacy ones have no
    ``hash``, and an unknown hash cannot be verified: both are asked as if absent)."""
    c = presence.find(f"{{{xmlns.CAPS}}}c")
    if c is None:
        return None
    algorithm, node, ver = c.get("hash", ""), c.get("node", ""), c.get("ver", "")
    if algorithm not in HASHES or not node or not ver:
        return None
    return Caps(algorithm, node, ver)


def _form_values(form: Element) -> tuple[str, list[tuple[str, list[str]]]] | None:
    form_type, fields = None, []
    for field in form.findall(f"{{{xmlns.DATA}}}field"):
        values = [v.text or "" for v in field.findall(f"{{{xmlns.DATA}}}value")]
        if field.get("var") == "FORM_TYPE":
            form_type = values[0] if values else ""
        else:
            fields.append((field.get("var", ""), sorted(values)))
    return None if form_type is None else (form_type, sorted(fields))


def verification_string(query: Element, algorithm: str) -> str | None:
    """The ``ver`` a disco#info answer hashes to (XEP-0115 §5.1), or None when the XEP says it must
    not be trusted: an identity or a feature given twice, two forms of one FORM_TYPE."""
    identities = ["/".join((i.get("category", ""), i.get("type", ""), i.get(XML_LANG, ""), i.get("name", "")))
                  for i in query.findall(f"{{{xmlns.DISCO_INFO}}}identity")]
    features = [f.get("var", "") for f in query.findall(f"{{{xmlns.DISCO_INFO}}}feature")]
    forms = [found for form in query.findall(f"{{{xmlns.DATA}}}x") if (found := _form_values(form))]
    if len(set(identities)) != len(identities) or len(set(features)) != len(features) \
            or len({t for t, _ in forms}) != len(forms) or algorithm not in HASHES:
        return None
    text = "".join(f"{i}<" for i in sorted(identities)) + "".join(f"{f}<" for f in sorted(features))
    for form_type, fields in sorted(forms):
        text += f"{form_type}<" + "".join(f"{var}<" + "".join(f"{v}<" for v in values) for var, values in fields)
    digest = hashlib.new(HASHES[algorithm], text.encode()).digest()
    return base64.b64encode(digest).decode()


class CapsCache:
    """Features by client version, shared by every session announcing that version."""

    def __init__(self, size: int = CACHE_SIZE,
                 learned: Callable[[Caps, frozenset[str]], None] | None = None) -> None:
        self.size = size
        #: Called as a version's answer is verified, before any session waiting for it resumes (those
        #: resume one after the other, each at its turn of the event loop).
        self.learned = learned
        self._known: OrderedDict[tuple[str, str], frozenset[str]] = OrderedDict()
        self._asking: dict[tuple[str, str], asyncio.Future] = {}
        #: Questions asked, and answers not matching their ``ver`` (not kept): for the metrics and tests.
        self.asked = 0
        self.unverified = 0

    def known(self, caps: Caps) -> frozenset[str] | None:
        key = (caps.hash, caps.ver)
        found = self._known.get(key)
        if found is not None:
            self._known.move_to_end(key)
        return found

    def features(self, caps: Caps,
                 ask: Callable[[str], Awaitable[Element | None]]) -> Awaitable[frozenset[str] | None]:
        """The features of ``caps``'s version for one session: remembered, or asked with
        ``ask(node#ver)`` (that session's disco#info query element; None when it did not answer).
        A session announcing a version whose question is on its way waits for that answer; when
        the answer does not verify, it is asked itself.

        A new question is asked before this returns, not when the caller's task next runs: fifty
        agents online at once are read together, and their first offers wait for this answer."""
        found = self.known(caps)
        if found is not None:
            return _ready(found)
        key = (caps.hash, caps.ver)
        shared = self._asking.get(key)
        if shared is not None:
            return self._after_shared(shared, caps, ask)
        shared = self._asking[key] = asyncio.get_running_loop().create_future()
        try:
            answer = self._question(caps, ask)
        except BaseException:
            self._settle(key, shared, None)
            raise
        asking = asyncio.ensure_future(self._first_answer(caps, answer))
        # Settled whatever becomes of the task (cancelled before it ever ran, too): the sessions
        # waiting for this version's answer must not wait for ever.
        asking.add_done_callback(lambda done: self._settle(key, shared, done))
        return self._features_in(asking)

    async def _after_shared(self, shared: asyncio.Future, caps: Caps,
                            ask: Callable[[str], Awaitable[Element | None]]) -> frozenset[str] | None:
        verified = await asyncio.shield(shared)
        if verified is not None:
            return verified
        return (await self._ask(caps, ask))[0]

    async def _first_answer(self, caps: Caps, answer: Awaitable[Element | None]) \
            -> tuple[frozenset[str] | None, bool]:
        return self._verify(caps, await answer)

    @staticmethod
    async def _features_in(asking: Awaitable[tuple[frozenset[str] | None, bool]]) -> frozenset[str] | None:
        return (await asking)[0]

    def _settle(self, key: tuple[str, str], shared: asyncio.Future, done: asyncio.Future | None) -> None:
        """The question for ``key`` is over: the sessions waiting for it get its verified features,
        or None (then each is asked itself)."""
        if self._asking.get(key) is shared:
            del self._asking[key]
        if shared.done():
            return
        ok = done is not None and not done.cancelled() and done.exception() is None and done.result()[1]
        shared.set_result(done.result()[0] if ok else None)

    async def _ask(self, caps: Caps, ask: Callable[[str], Awaitable[Element | None]]) \
            -> tuple[frozenset[str] | None, bool]:
        return self._verify(caps, await self._question(caps, ask))

    def _question(self, caps: Caps, ask: Callable[[str], Awaitable[Element | None]]) -> Awaitable[Element | None]:
        self.asked += 1
        return ask(f"{caps.node}#{caps.ver}")

    def _verify(self, caps: Caps, query: Element | None) -> tuple[frozenset[str] | None, bool]:
        """(the features answered, whether they hash to ``caps.ver``: then they are remembered)."""
        if query is None:
            return None, False
        features = frozenset(f.get("var", "") for f in query.findall(f"{{{xmlns.DISCO_INFO}}}feature"))
        if verification_string(query, caps.hash) != caps.ver:
            self.unverified += 1  # true of this session perhaps, but not believed of others
            return features, False
        self._known[(caps.hash, caps.ver)] = features
        if len(self._known) > self.size:
            self._known.popitem(last=False)
        if self.learned is not None:
            try:
                self.learned(caps, features)
            except Exception:  # noqa: BLE001 - the answer stands (and is shared) whatever its listener did
                log.exception("telling what a client version speaks failed", extra={"node": caps.node})
        return features, True


def _ready(value: frozenset[str]) -> asyncio.Future:
    done = asyncio.get_running_loop().create_future()
    done.set_result(value)
    return done
