"""Who may retract what: pure decisions, no stanzas and no storage.

Every check raises ``StanzaError`` with a condition from RFC 6120 and a text in
the requester's language (zh or en); returning means "allowed".

Windows: ``None`` means no limit; a number is seconds after the original was
archived. A room setting of ``None`` falls back to the service's option, and 0
(in either place) means no limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from component.errors import StanzaError
from component.texts import Texts, is_zh

#: Value of the room setting that defers to the service's option.
DEFAULT_CHOICE = "default"
#: Choices offered in the room configuration form (seconds; "0" = no limit).
WINDOW_CHOICES = (DEFAULT_CHOICE, "0", "60", "120", "300", "900", "3600", "86400")

_TEXTS: dict[str, tuple[str, str]] = {
    "unknown": ("There is no archived message with that id here.",
                "这里没有该 id 的已存档消息。"),
    "not_author": ("Only the author can retract this message; moderators use message moderation.",
                   "只有发送者本人可以撤回这条消息；管理员请使用消息审核。"),
    "not_moderator": ("Only moderators may remove other participants' messages.",
                      "只有主持人可以删除其他成员的消息。"),
    "is_retraction": ("A retraction or moderation notice cannot be retracted.",
                      "撤回通知或审核通知本身不能被撤回。"),
    "already": ("This message was already retracted.",
                "这条消息已经被撤回。"),
    "window": ("Messages can only be retracted within {window} of sending.",
               "消息只能在发送后 {window} 内撤回。"),
    "forged": ("Moderation notices and tombstones come only from the room itself.",
               "审核通知和撤回标记只能由聊天室本身发出。"),
    "window_value": ("The recall window must be a whole number of seconds (0 = no limit).",
                     "撤回时限必须是整数秒（0 表示不限）。"),
}

#: User-facing texts of the service: (en, zh).
_NOTICES: dict[str, tuple[str, str]] = {
    "moderated": ("A moderator removed a message.", "主持人删除了一条消息。"),
    "moderated_reason": ("A moderator removed a message: {reason}", "主持人删除了一条消息：{reason}"),
    "window_label": ("Time allowed to retract one's own message (owners and admins: no limit)",
                     "成员撤回自己消息的时限（所有者和管理员不受限）"),
    "window_default": ("Service default ({window})", "服务默认（{window}）"),
    "no_limit": ("no limit", "不限"),
}


#: Refusal texts in the requester's language.
text = Texts(_TEXTS)
#: User-facing notices and labels.
notice = Texts(_NOTICES)


def describe_window(seconds: int | None, lang: str | None = "en") -> str:
    """'2 minutes' / '2 分钟'; no limit for None or 0."""
    if not seconds:
        return notice("no_limit", lang)
    zh = is_zh(lang)
    for size, en_unit, zh_unit in ((86400, "day", "天"), (3600, "hour", "小时"), (60, "minute", "分钟")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {zh_unit}" if zh else f"{count} {en_unit}{'s' if count != 1 else ''}"
    return f"{seconds} 秒" if zh else f"{seconds} second{'s' if seconds != 1 else ''}"


@dataclass(frozen=True)
class Target:
    """What the decisions need to know about the archived original."""

    stanza_id: str
    author: str             #: real bare JID ("" for the room or service itself)
    occupant_id: str
    timestamp: float        #: when it was archived (seconds since the epoch)
    retracted: bool         #: already a tombstone
    is_retraction: bool     #: the original is itself a retraction or moderation notice


@dataclass(frozen=True)
class Actor:
    """Who asks."""

    bare_jid: str
    occupant_id: str = ""
    privileged: bool = False  #: owner, admin or service admin: the window does not apply
    moderator: bool = False   #: may moderate (XEP-0425)


def effective_window(service_seconds: int, room_seconds: int | None) -> int | None:
    """The window in force: the room's setting, else the service's; 0 means no limit (None)."""
    seconds = service_seconds if room_seconds is None else room_seconds
    return seconds or None


def parse_window_value(value: object, lang: str | None = "en") -> int | None:
    """A submitted room setting: "default" or "" = the service's (None), else whole seconds >= 0."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    raw = str(value if value is not None else "").strip()
    if raw in ("", DEFAULT_CHOICE):
        return None
    try:
        seconds = int(raw)
    except ValueError:
        raise StanzaError("not-acceptable", text("window_value", lang)) from None
    if seconds < 0:
        raise StanzaError("not-acceptable", text("window_value", lang))
    return seconds


def is_author(target: Target, actor: Actor) -> bool:
    """Same real bare JID, or the same occupant-id (stable per room and real JID). Never by nickname."""
    if target.author and target.author == actor.bare_jid:
        return True
    return bool(target.occupant_id) and target.occupant_id == actor.occupant_id


def check_retract(target: Target | None, actor: Actor, window: int | None, now: float,
                  lang: str | None = "en") -> None:
    """May ``actor`` retract its own message ``target`` now?"""
    if target is None:
        raise StanzaError("item-not-found", text("unknown", lang))
    if not is_author(target, actor):
        raise StanzaError("forbidden", text("not_author", lang))
    _check_retractable(target, lang)
    if window and not actor.privileged and now - target.timestamp > window:
        raise StanzaError("not-allowed", text("window", lang, window=describe_window(window, lang)))


def check_moderate(target: Target | None, actor: Actor, lang: str | None = "en") -> None:
    """May ``actor`` remove ``target`` as a moderator? Rights first, so ids cannot be probed."""
    if not actor.moderator:
        raise StanzaError("forbidden", text("not_moderator", lang))
    if target is None:
        raise StanzaError("item-not-found", text("unknown", lang))
    _check_retractable(target, lang)


def _check_retractable(target: Target, lang: str | None) -> None:
    if target.is_retraction:
        raise StanzaError("not-allowed", text("is_retraction", lang))
    if target.retracted:
        raise StanzaError("not-allowed", text("already", lang))
