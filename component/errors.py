"""Stanza errors (RFC 6120 section 8.3) and the guard that turns failures into them."""

from __future__ import annotations

import logging
from typing import Any

from slixmpp.exceptions import XMPPError
from slixmpp.stanza.error import Error

from . import namespaces as xmlns

# slixmpp's list of defined conditions lacks RFC 6120's policy-violation, and
# silently drops a condition it does not know; complete it.
Error.conditions = Error.conditions | {"policy-violation"}

log = logging.getLogger(__name__)

#: RFC 6120 section 8.3.3: the error type that goes with each defined condition.
CONDITION_TYPES: dict[str, str] = {
    "bad-request": "modify",
    "conflict": "cancel",
    "feature-not-implemented": "cancel",
    "forbidden": "auth",
    "gone": "cancel",
    "internal-server-error": "wait",
    "item-not-found": "cancel",
    "jid-malformed": "modify",
    "not-acceptable": "modify",
    "not-allowed": "cancel",
    "not-authorized": "auth",
    "payment-required": "auth",
    "policy-violation": "modify",
    "recipient-unavailable": "wait",
    "redirect": "modify",
    "registration-required": "auth",
    "remote-server-not-found": "cancel",
    "remote-server-timeout": "wait",
    "resource-constraint": "wait",
    "service-unavailable": "cancel",
    "subscription-required": "auth",
    "undefined-condition": "cancel",
    "unexpected-request": "wait",
}


class StanzaError(XMPPError):
    """An error to answer a stanza with; the type follows the condition by default.

    ``app`` is an optional application-specific condition element
    (an ``xml.etree`` element), e.g. XEP-0050's ``<bad-sessionid/>``.
    """

    def __init__(self, condition: str, text: str = "", etype: str | None = None,
                 app: Any = None, lang: str | None = None) -> None:
        if condition not in CONDITION_TYPES:
            raise ValueError(f"unknown stanza error condition {condition!r}")
        super().__init__(condition=condition, text=text,
                         etype=etype or CONDITION_TYPES[condition])
        self.app = app
        self.lang = lang


def fill_error(reply: Any, error: XMPPError) -> Any:
    """Put ``error`` into the error child of ``reply`` (a stanza of type error)."""
    reply["type"] = "error"
    reply["error"]["condition"] = error.condition
    reply["error"]["type"] = error.etype
    if error.text:
        reply["error"]["text"] = error.text
    app = getattr(error, "app", None)
    if app is not None:
        reply["error"].xml.append(app)
    return reply


#: Error conditions that say the addressee can no longer be reached (XEP-0045 7.2.x kicks an
#: occupant on them; the server sends them when a remote server is unreachable or a user gone).
#: Every plugin that drops an address on a bounce decides by these (rooms, the support desk).
GONE_CONDITIONS = frozenset({"gone", "item-not-found", "recipient-unavailable", "redirect",
                             "remote-server-not-found", "remote-server-timeout", "service-unavailable"})
_NS_STANZAS = xmlns.STANZAS
#: Where a stanza's own <error/> lives: the stanza's namespace (or none, in elements built by
#: hand). An element named error in another namespace is a payload, not the stanza's error.
_ERROR_TAGS = frozenset({"error", f"{{{xmlns.CLIENT}}}error", f"{{{xmlns.COMPONENT}}}error",
                         "{jabber:server}error"})


def means_gone(stanza_xml: Any) -> bool:
    """True when an error stanza (a bounce) says its sender's address is unreachable.

    An error without a condition counts too: something bounced, and a bounce we cannot read
    is no reason to keep writing to that address.
    """
    error = next((c for c in stanza_xml if c.tag in _ERROR_TAGS), None)
    if error is None:
        return True
    conditions = {c.tag.partition("}")[2] for c in error if c.tag.startswith(f"{{{_NS_STANZAS}}}")}
    return not conditions or bool(conditions & GONE_CONDITIONS)
