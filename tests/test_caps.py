"""XEP-0115 entity capabilities (component/caps.py): the verification string of the XEP's own
examples, answers shared by the sessions of one client version, and answers not believed."""

from __future__ import annotations

import asyncio
from xml.etree.ElementTree import Element, fromstring

from component.caps import Caps, CapsCache, of_presence, verification_string

SIMPLE = """<query xmlns='http://jabber.org/protocol/disco#info'>
  <identity category='client' name='Exodus 0.9.1' type='pc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/muc'/>
</query>"""

COMPLEX = """<query xmlns='http://jabber.org/protocol/disco#info'>
  <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
  <identity xml:lang='el' category='client' name='&#936; 0.11' type='pc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/muc'/>
  <x xmlns='jabber:x:data' type='result'>
    <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
    <field var='ip_version'><value>ipv4</value><value>ipv6</value></field>
    <field var='os'><value>Mac</value></field>
    <field var='os_version'><value>10.5.1</value></field>
    <field var='software'><value>Psi</value></field>
    <field var='software_version'><value>0.11</value></field>
  </x>
</query>"""


def test_the_verification_strings_of_the_xeps_examples() -> None:
    assert verification_string(fromstring(SIMPLE), "sha-1") == "QgayPKawpkPSDYmwT/WM94uAlu0="
    assert verification_string(fromstring(COMPLEX), "sha-1") == "q07IKJEyjvHSyhy//CH0CxmKi8w="
    # Another order of the same answer hashes the same.
    query = fromstring(COMPLEX)
    query[:] = list(reversed(list(query)))
    assert verification_string(query, "sha-1") == "q07IKJEyjvHSyhy//CH0CxmKi8w="


def test_answers_the_xep_says_not_to_trust_have_no_verification_string() -> None:
    twice = fromstring(SIMPLE)
    twice.append(Element("{http://jabber.org/protocol/disco#info}feature", {"var": "http://jabber.org/protocol/muc"}))
    assert verification_string(twice, "sha-1") is None
    assert verification_string(fromstring(SIMPLE), "md5") is None


def test_capabilities_are_read_from_a_presence_in_the_current_form_only() -> None:
    def presence(c: str) -> Element:
        return fromstring(f"<presence xmlns='jabber:client'>{c}</presence>")

    assert of_presence(presence("<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://gajim.org' "
                                "ver='abc='/>")) == Caps("sha-1", "https://gajim.org", "abc=")
    assert of_presence(presence("<c xmlns='http://jabber.org/protocol/caps' node='legacy' ver='1.0'/>")) is None
    assert of_presence(presence("<c xmlns='http://jabber.org/protocol/caps' hash='md5' node='n' ver='v'/>")) is None
    assert of_presence(presence("")) is None


async def test_sessions_of_one_version_share_one_question_and_a_false_answer_is_not_believed() -> None:
    learned: list[tuple[Caps, frozenset[str]]] = []
    cache = CapsCache(learned=lambda caps, features: learned.append((caps, features)))
    good = Caps("sha-1", "http://code.google.com/p/exodus", "QgayPKawpkPSDYmwT/WM94uAlu0=")
    asked: list[tuple[str, str]] = []
    gate = asyncio.Event()

    def ask(session: str, answer: str):
        async def disco(node: str) -> Element:
            asked.append((session, node))
            await gate.wait()
            return fromstring(answer)
        return disco

    # Three sessions at once: one question; the others wait for it.
    waiting = [asyncio.ensure_future(cache.features(good, ask(f"s{i}", SIMPLE))) for i in range(3)]
    await asyncio.sleep(0)
    gate.set()
    answers = await asyncio.gather(*waiting)
    assert asked == [("s0", "http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0=")]
    assert all("http://jabber.org/protocol/muc" in a for a in answers)
    assert await cache.features(good, ask("s3", SIMPLE)) == answers[0] and len(asked) == 1
    # Told once, as the answer was verified (the sessions waiting for it learn it then, not each
    # at its turn of the loop).
    assert learned == [(good, answers[0])]
    learned.clear()

    # A session claiming a version it does not answer to: believed of itself only. The session
    # that waited for that answer is asked itself, and its true answer is then kept.
    asked.clear()
    forged = Caps("sha-1", "n", "q07IKJEyjvHSyhy//CH0CxmKi8w=")
    liar = asyncio.ensure_future(cache.features(forged, ask("liar", SIMPLE)))
    await asyncio.sleep(0)
    honest = asyncio.ensure_future(cache.features(forged, ask("psi", COMPLEX)))
    assert "http://jabber.org/protocol/muc" in await liar
    assert await honest == frozenset(f.get("var") for f in fromstring(COMPLEX).iter(
        "{http://jabber.org/protocol/disco#info}feature"))
    assert [session for session, _ in asked] == ["liar", "psi"] and cache.unverified == 1
    assert learned == [(forged, await honest)]  # the false answer was never told
    assert cache.known(forged) is not None


async def test_a_session_that_does_not_answer_leaves_nothing_behind() -> None:
    cache = CapsCache(size=1)
    caps = Caps("sha-1", "n", "QgayPKawpkPSDYmwT/WM94uAlu0=")

    async def silent(_node: str) -> None:
        return None

    async def answers(_node: str) -> Element:
        return fromstring(SIMPLE)

    assert await cache.features(caps, silent) is None and cache.known(caps) is None
    assert await cache.features(caps, answers) is not None and cache.known(caps) is not None
    # The oldest version goes when the cache is full.
    other = Caps("sha-1", "n", "q07IKJEyjvHSyhy//CH0CxmKi8w=")

    async def psi(_node: str) -> Element:
        return fromstring(COMPLEX)

    await cache.features(other, psi)
    assert cache.known(caps) is None and cache.known(other) is not None


async def test_a_failing_listener_leaves_the_answer_shared(caplog) -> None:
    def broken(_caps: Caps, _features: frozenset[str]) -> None:
        raise RuntimeError("listener failed")

    cache = CapsCache(learned=broken)
    good = Caps("sha-1", "http://code.google.com/p/exodus", "QgayPKawpkPSDYmwT/WM94uAlu0=")
    asked: list[str] = []

    async def disco(node: str) -> Element:
        asked.append(node)
        await asyncio.sleep(0)
        return fromstring(SIMPLE)

    answers = await asyncio.gather(*(cache.features(good, disco) for _ in range(3)))
    assert len(asked) == 1 and answers[0] == answers[1] == answers[2] and answers[0]
    assert "telling what a client version speaks failed" in caplog.text


async def test_the_question_leaves_before_the_caller_awaits() -> None:
    # Fifty agents' presences are handled in one turn of the loop: a question sent only when its
    # task first ran would leave after all of them, and their first offers wait for its answer.
    cache = CapsCache()
    good = Caps("sha-1", "http://code.google.com/p/exodus", "QgayPKawpkPSDYmwT/WM94uAlu0=")
    asked: list[str] = []
    answer = asyncio.get_running_loop().create_future()

    def ask(node: str) -> asyncio.Future:
        asked.append(node)
        return answer

    first = cache.features(good, ask)
    second = cache.features(good, ask)
    assert asked == ["http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0="]
    answer.set_result(fromstring(SIMPLE))
    features, shared = await first, await second
    assert features == shared and "http://jabber.org/protocol/muc" in features
    assert len(asked) == 1 and cache.asked == 1


async def test_a_session_cancelled_before_it_ran_leaves_no_session_waiting() -> None:
    # The question leaves at once; its answer is awaited even when the session that asked it is
    # cancelled before its task ever ran (an agent gone, the component stopping).
    cache = CapsCache()
    good = Caps("sha-1", "http://code.google.com/p/exodus", "QgayPKawpkPSDYmwT/WM94uAlu0=")
    timed_out = asyncio.get_running_loop().create_future()
    asked: list[str] = []

    def ask(node: str) -> asyncio.Future:
        asked.append(node)
        return timed_out if len(asked) == 1 else _answer(SIMPLE)

    first = asyncio.ensure_future(cache.features(good, ask))
    second = asyncio.ensure_future(cache.features(good, ask))
    first.cancel()
    timed_out.set_result(None)  # no answer in time
    # The session that waited for that question is asked itself, and nobody waits for ever.
    assert "http://jabber.org/protocol/muc" in await asyncio.wait_for(second, 5)
    assert len(asked) == 2 and cache._asking == {}


def _answer(xml: str) -> asyncio.Future:
    done = asyncio.get_running_loop().create_future()
    done.set_result(fromstring(xml))
    return done
