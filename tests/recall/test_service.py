"""The pure decisions: who may retract what, the window, moderator rights, texts."""

from __future__ import annotations

import pytest

from component.errors import StanzaError
from plugins.recall.service import (Actor, Target, check_moderate, check_retract, describe_window,
                                    effective_window, is_author, parse_window_value, text)

NOW = 1_700_000_000.0
ALICE = Actor("alice@localhost", occupant_id="occ-alice")


def target(**changes) -> Target:
    values = dict(stanza_id="S1", author="alice@localhost", occupant_id="occ-alice", timestamp=NOW - 30,
                  retracted=False, is_retraction=False)
    values.update(changes)
    return Target(**values)


def refused(call, *args, **kwargs) -> StanzaError:
    with pytest.raises(StanzaError) as err:
        call(*args, **kwargs)
    return err.value


def test_author_may_retract_within_window():
    check_retract(target(), ALICE, window=120, now=NOW)


def test_author_recognised_by_occupant_id_alone():
    # e.g. the archive kept the occupant-id but the author field is the same person under another resource
    assert is_author(target(author=""), Actor("someone@localhost", occupant_id="occ-alice"))


def test_never_by_nickname_or_empty_ids():
    assert not is_author(target(author="", occupant_id=""), Actor("alice@localhost", occupant_id=""))
    assert not is_author(target(author="bob@localhost", occupant_id=""), Actor("alice@localhost", occupant_id=""))


def test_unknown_id_is_item_not_found():
    error = refused(check_retract, None, ALICE, None, NOW)
    assert (error.condition, error.etype) == ("item-not-found", "cancel")
    assert error.text == text("unknown")


def test_someone_elses_message_is_forbidden():
    error = refused(check_retract, target(author="bob@localhost", occupant_id="occ-bob"), ALICE, None, NOW)
    assert (error.condition, error.etype) == ("forbidden", "auth")


def test_owner_cannot_self_retract_others_message_either():
    owner = Actor("carol@localhost", occupant_id="occ-carol", privileged=True, moderator=True)
    error = refused(check_retract, target(), owner, None, NOW)
    assert error.condition == "forbidden"


@pytest.mark.parametrize("changes,key", [({"retracted": True}, "already"), ({"is_retraction": True}, "is_retraction")])
def test_already_retracted_or_a_retraction_is_not_allowed(changes, key):
    error = refused(check_retract, target(**changes), ALICE, None, NOW)
    assert (error.condition, error.etype) == ("not-allowed", "cancel")
    assert error.text == text(key)


def test_past_window_is_not_allowed_with_the_window_in_the_text():
    error = refused(check_retract, target(timestamp=NOW - 121), ALICE, 120, NOW)
    assert (error.condition, error.etype) == ("not-allowed", "cancel")
    assert "2 minutes" in error.text
    zh = refused(check_retract, target(timestamp=NOW - 121), ALICE, 120, NOW, "zh-CN")
    assert "2 分钟" in zh.text


def test_window_edge_and_unlimited():
    check_retract(target(timestamp=NOW - 120), ALICE, 120, NOW)  # exactly at the limit
    check_retract(target(timestamp=NOW - 10 ** 7), ALICE, None, NOW)


def test_privileged_authors_are_not_limited():
    owner = Actor("alice@localhost", privileged=True)
    check_retract(target(timestamp=NOW - 10 ** 6), owner, 60, NOW)


def test_moderator_may_moderate_anyone():
    check_moderate(target(author="bob@localhost"), Actor("carol@localhost", moderator=True))


def test_non_moderator_is_forbidden_even_for_unknown_ids():
    error = refused(check_moderate, None, Actor("bob@localhost"))
    assert (error.condition, error.etype) == ("forbidden", "auth")
    assert error.text == text("not_moderator")
    assert refused(check_moderate, None, Actor("bob@localhost"), "zh").text == text("not_moderator", "zh")


@pytest.mark.parametrize("value,condition", [
    (None, "item-not-found"), (target(retracted=True), "not-allowed"), (target(is_retraction=True), "not-allowed")])
def test_moderation_refusals(value, condition):
    assert refused(check_moderate, value, Actor("carol@localhost", moderator=True)).condition == condition


def test_effective_window():
    assert effective_window(120, None) == 120
    assert effective_window(120, 0) is None
    assert effective_window(0, None) is None
    assert effective_window(0, 300) == 300


@pytest.mark.parametrize("value,expected", [
    ("", None), ("default", None), (None, None), ("0", 0), (" 300 ", 300), (["60"], 60), ([], None)])
def test_parse_window_value(value, expected):
    assert parse_window_value(value) == expected


@pytest.mark.parametrize("value", ["two minutes", "-5", "1.5"])
def test_parse_window_value_refusals(value):
    error = refused(parse_window_value, value)
    assert (error.condition, error.etype) == ("not-acceptable", "modify")


@pytest.mark.parametrize("seconds,lang,expected", [
    (None, "en", "no limit"), (0, "zh", "不限"), (60, "en", "1 minute"), (120, "en", "2 minutes"),
    (3600, "en", "1 hour"), (86400 * 2, "en", "2 days"), (90, "en", "90 seconds"), (300, "zh-TW", "5 分钟")])
def test_describe_window(seconds, lang, expected):
    assert describe_window(seconds, lang) == expected


def test_texts_follow_the_language():
    assert text("unknown", "en") != text("unknown", "zh")
    assert text("unknown", None) == text("unknown", "en")


def test_room_notices_in_both_languages():
    from plugins.recall.service import notice
    assert notice("moderated_reason", "zh-CN", reason="广告") == "主持人删除了一条消息：广告"
    assert notice("moderated_reason", "en", reason="spam") == "A moderator removed a message: spam"
    assert notice("moderated", "") == "A moderator removed a message."
