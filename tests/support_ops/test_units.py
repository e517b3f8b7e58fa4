"""The pure parts: business hours, the pre-chat form, ratings, tickets' statuses/tags/priorities, canned
replies, the wire formats against the XSD, and the schema migration from the first version."""

from __future__ import annotations

from datetime import datetime
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, text

from component.forms import values as form_values
from component.storage import Database, Migrations
from plugins.support import canned, prechat, ratings, stanza, tickets
from plugins.support.hours import Calendar, HoursError, parse_holiday, parse_rule
from plugins.support.plugin import SupportPlugin
from plugins.support.store import TICKET_COLUMNS_2, SupportStore

from .. import harness
from ..schema import ROOT, assert_valid
from .kit import submit_form

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*parts: int) -> float:
    return datetime(*parts, tzinfo=SHANGHAI).timestamp()


# -- business hours ---------------------------------------------------------------------------------
def test_hours_weekdays_weekend_split_ranges_overnight_and_holidays():
    calendar = Calendar(["mon-fri 09:00-18:00", "sat 10:00-12:00, 13:00-16:00", "sun 22:00-02:00"],
                        ["2025-10-01..2025-10-03", "2025-12-25"], "Asia/Shanghai")
    # 2025-09-29 is a Monday.
    assert calendar.is_open(at(2025, 9, 29, 9, 0)) and calendar.is_open(at(2025, 9, 29, 17, 59))
    assert not calendar.is_open(at(2025, 9, 29, 8, 59)) and not calendar.is_open(at(2025, 9, 29, 18, 0))
    assert calendar.is_open(at(2025, 10, 4, 11, 0)) and not calendar.is_open(at(2025, 10, 4, 12, 30))
    # Sunday night runs into Monday morning.
    assert calendar.is_open(at(2025, 10, 5, 23, 30)) and calendar.is_open(at(2025, 10, 6, 1, 59))
    assert not calendar.is_open(at(2025, 10, 6, 2, 0))
    # A holiday on a Wednesday: closed all day; the next opening skips the holiday range.
    assert not calendar.is_open(at(2025, 10, 1, 10, 0))
    assert calendar.next_open(at(2025, 10, 1, 10, 0)) == at(2025, 10, 4, 10, 0)
    assert calendar.next_open(at(2025, 9, 29, 18, 0)) == at(2025, 9, 30, 9, 0)
    assert calendar.next_open(at(2025, 10, 4, 12, 30)) == at(2025, 10, 4, 13, 0)
    open_now = at(2025, 9, 29, 10, 0)
    assert calendar.next_open(open_now) == open_now
    assert calendar.local_time(at(2025, 9, 30, 9, 0), "en") == "Tue 2025-09-30 09:00"
    assert calendar.local_time(at(2025, 9, 30, 9, 0), "zh") == "周二 2025-09-30 09:00"
    assert calendar.describe("en") == ("Mon–Fri 09:00–18:00; Sat 10:00–12:00 13:00–16:00; Sun 22:00–02:00 "
                                       "(Asia/Shanghai)")
    assert calendar.describe("zh").startswith("周一至周五 09:00–18:00；周六")


def test_hours_time_zone_matters_and_empty_means_always_open():
    moment = datetime(2025, 9, 29, 2, 0, tzinfo=ZoneInfo("UTC")).timestamp()  # 10:00 in Shanghai
    assert Calendar(["mon-fri 09:00-18:00"], [], "Asia/Shanghai").is_open(moment)
    assert not Calendar(["mon-fri 09:00-18:00"], [], "UTC").is_open(moment)
    always = Calendar()
    assert always.always_open and always.is_open(moment)
    holidays_only = Calendar([], ["2025-09-29"], "UTC")
    assert not holidays_only.is_open(moment)
    assert holidays_only.next_open(moment) == datetime(2025, 9, 30, tzinfo=ZoneInfo("UTC")).timestamp()
    assert Calendar(["daily 00:00-24:00"]).is_open(moment)
    assert parse_rule("mon, wed 09:00-10:00").days == (0, 2)
    assert parse_rule("fri-mon 10:00-11:00").days == (4, 5, 6, 0)


@pytest.mark.parametrize("hours,holidays,zone", [
    (["someday 09:00-10:00"], [], "UTC"), (["mon 9-10"], [], "UTC"), (["mon 25:00-26:00"], [], "UTC"),
    (["mon"], [], "UTC"), (["mon 10:00-10:00"], [], "UTC"), ([], ["2025-13-01"], "UTC"),
    ([], ["2025-10-05..2025-10-01"], "UTC"), ([], [], "Mars/Olympus"),
])
def test_hours_refuse_what_they_cannot_read(hours, holidays, zone):
    with pytest.raises(HoursError):
        Calendar(hours, holidays, zone)


def test_holiday_ranges():
    first, last = parse_holiday("2025-10-01..2025-10-07")
    assert (first.day, last.day) == (1, 7)


# -- pre-chat form -----------------------------------------------------------------------------------
def test_prechat_answers_by_text_and_by_form():
    assert prechat.answer("email", "alice@example.com", False) == ("alice@example.com", None)
    assert prechat.answer("email", "not an address", False) == (None, "prechat_bad_email")
    assert prechat.answer("order", "skip", True) == ("", None)
    assert prechat.answer("order", "跳过", True) == ("", None)
    assert prechat.answer("name", "skip", False) == (None, "prechat_required")
    assert prechat.answer("phone", "+86 10 1234 5678", False) == ("+86 10 1234 5678", None)
    assert prechat.answer("phone", "call me", False) == (None, "prechat_bad_phone")
    assert prechat.answer("name", "x" * 500, False)[0] == "x" * prechat.MAX_ANSWER
    assert prechat.missing(["name", "email", "order"], {"name": "A", "order": ""}) == ["email"]
    accepted, errors = prechat.read_form({"name": ["Alice"], "email": ["bad"], "order": []},
                                         ["name", "email", "order"], ["order"])
    assert accepted == {"name": "Alice", "order": ""} and errors == [("email", "prechat_bad_email")]
    assert prechat.question("order", "zh", True).startswith("请提供您的订单号") and "跳过" in prechat.question(
        "order", "zh", True)
    assert prechat.question("account", "en", False) == "Please give your account."
    assert prechat.summary(["name", "email", "order"], {"name": "Alice", "email": "a@b.c", "order": ""}, "en") \
        == "Name: Alice · Email: a@b.c"


def test_prechat_form_round_trip():
    form = prechat.build_form(["name", "email", "order"], ["order"], {"name": "Alice"}, "zh")
    fields = form.get_fields()
    assert form_values(form)["FORM_TYPE"] == stanza.PRECHAT_FORM and form_values(form)["name"] == "Alice"
    assert fields["name"]["label"] == "姓名"
    assert fields["email"]["required"] and not fields["order"]["required"]
    message = ET.Element("{jabber:client}message")
    submit_form(message, {"name": "Alice", "email": "a@b.c"}, stanza.PRECHAT_FORM)
    assert stanza.submitted_form(message, stanza.PRECHAT_FORM) == {"name": ["Alice"], "email": ["a@b.c"]}
    assert stanza.submitted_form(message, stanza.RATING_FORM) is None  # another form type is not ours
    bare = ET.Element("{jabber:client}message")
    submit_form(bare, {"rating": "4"})
    assert stanza.submitted_form(bare, stanza.RATING_FORM) == {"rating": ["4"]}  # FORM_TYPE dropped by a client


# -- ratings -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body,expected", [
    ("5", (5, "")), ("4 quick and kind", (4, "quick and kind")), ("５分", (5, "")), ("五星 很好", (5, "很好")),
    ("3/5 ok", (3, "ok")), ("2, slow", (2, "slow")), ("3分，还行", (3, "还行")), (" 1 ", (1, "")),
    ("10", None), ("2.5", None), ("55", None), ("0", None), ("6", None), ("hello 5", None), ("", None),
])
def test_rating_replies(body, expected):
    assert ratings.parse_text(body) == expected


def test_rating_form():
    form = ratings.build_form("en")
    fields = form.get_fields()
    assert form_values(form)["FORM_TYPE"] == stanza.RATING_FORM
    assert [o["value"] for o in fields["rating"]["options"]] == ["5", "4", "3", "2", "1"]
    assert ratings.read_form({"rating": ["4"], "comment": ["fine", "thanks"]}) == (4, "fine\nthanks")
    assert ratings.read_form({"rating": ["9"]}) is None and ratings.read_form({}) is None
    assert form_values(ratings.build_form("zh"))["rating"] == ""


# -- tickets -------------------------------------------------------------------------------------------
def test_statuses_tags_priorities_and_searches():
    assert [tickets.status_of(s) for s in stanza.TICKET_STATES] == [
        "open", "open", "open", "waiting", "waiting", "waiting", "active", "pending", "resolved", "closed",
        "abandoned"]
    assert set(tickets.states_of(["waiting"])) == {"queued", "offered", "offline"}
    assert tickets.parse_tag_change("VIP +billing -spam #Refund bad/tag") == (
        ["vip", "billing", "refund"], ["spam"], ["bad/tag"])
    assert tickets.apply_tags(["spam", "old"], ["vip", "old"], ["spam"]) == ["old", "vip"]
    assert tickets.normalise_tag("退款") == "退款"
    assert [tickets.parse_priority(w, 10) for w in ("high", "紧急", "-3", "101", "soon")] == [5, 10, -3, None, None]
    assert tickets.parse_priority("urgent", 20) == 20
    search = tickets.parse_search("pending 待客户回复 #vip alice order")
    assert (search.statuses, search.tags, search.text) == (["pending", "pending"], ["vip"], "alice order")
    assert tickets.status_name("pending", "zh") == "待客户回复"


def test_canned_shortcuts_and_placeholders():
    assert canned.normalise_shortcut("/Greet") == "greet"
    assert canned.normalise_shortcut("two words") is None
    reply = canned.Canned("help", "greet", "Hello {name}, I am {agent}. {unknown}", "{name}您好")
    assert canned.render(reply.for_lang("en"), {"name": "Alice", "agent": "agent1"}) == \
        "Hello Alice, I am agent1. {unknown}"
    assert reply.for_lang("zh") == "{name}您好"
    assert canned.Canned("help", "x", "only english").for_lang("zh") == "only english"


# -- wire formats ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("state", stanza.TICKET_STATES)
def test_every_ticket_state_is_in_the_schema(state):
    assert_valid(stanza.ticket("01hq3v9z0k8m2n4p6r8t0v2x4z", "help@s.example", state, "t-x@s.example"))


def test_unknown_state_is_refused():
    with pytest.raises(AssertionError):
        assert_valid("<ticket xmlns='urn:switchboard:support:0' id='abc' queue='q@e' state='snoozed'/>")


# -- migration ------------------------------------------------------------------------------------------------
async def test_a_first_version_database_is_upgraded_and_keeps_its_tickets(tmp_path):
    """A database created by the first schema version gets the new columns and table, data intact."""
    url = harness.database_url(tmp_path)
    db = Database(url)
    first = SupportPlugin.migrations[0]
    await db.migrate([Migrations("support", (first,))])
    async with db.engine.begin() as connection:
        for column in TICKET_COLUMNS_2:  # make it look exactly like version 1
            await connection.execute(text(f"ALTER TABLE support_tickets DROP COLUMN {column}"))
        await connection.execute(text(
            "INSERT INTO support_tickets (id, queue, entry, customer, customer_jid, lang, state, priority, via, "
            "notify, agent, agent_jid, created_at, close_reason, offers, declined, agents_seen, target_agent, form) "
            "VALUES ('old1', 'help', 'help', 'c@x', 'c@x/r', 'en', 'closed', 0, 'chat', 1, '', '', 1.0, "
            "'resolved', '{}', '[]', '[\"a@x\"]', '', '{}')"))
    applied = await db.migrate([Migrations("support", SupportPlugin.migrations)])
    assert applied["support"] == (1, len(SupportPlugin.migrations))
    async with db.engine.connect() as connection:
        columns = await connection.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns(
            "support_tickets")})
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(TICKET_COLUMNS_2) <= columns and {"support_canned", "support_queue_overrides"} <= tables
    old = await SupportStore(db).ticket("old1")
    assert old is not None and (old.state, old.tags, old.reopened, old.rating, old.agents_seen) == (
        "closed", [], 0, None, ["a@x"])
    # Running the migrations again changes nothing.
    latest = len(SupportPlugin.migrations)
    assert (await db.migrate([Migrations("support", SupportPlugin.migrations)]))["support"] == (latest, latest)
    await db.close()


def _form_shape(x) -> list[tuple]:
    ns = "{jabber:x:data}"
    return [(f.get("var"), f.get("type"), f.find(f"{ns}required") is not None,
             [o.findtext(f"{ns}value") for o in f.findall(f"{ns}option")],
             [v.text for v in f.findall(f"{ns}value")] if f.get("type") == "hidden" else [])
            for f in x.findall(f"{ns}field")]


@pytest.mark.parametrize("example,build", [
    ("support-rating.xml", lambda: ratings.build_form("en")),
    ("support-prechat.xml", lambda: prechat.build_form(["name", "email", "order"], ["order"], {}, "en")),
])
def test_the_protocol_examples_show_the_forms_we_send(example, build):
    shown = ET.parse(ROOT / "examples" / example).getroot().find("{jabber:x:data}x")
    sent = build().xml
    assert _form_shape(shown) == _form_shape(sent)
    assert shown.findtext("{jabber:x:data}title") == sent.findtext("{jabber:x:data}title")
