"""Which of the desk's notices may wait while the server is behind (component/pacing.py): what somebody
waits for goes at once, the rest as bulk."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from component.metrics import Metrics
from plugins.support.model import Ticket
from plugins.support.outbox import BODY, StanzaOutbox

DOMAIN = "support.example"


def desk() -> tuple[StanzaOutbox, list[tuple[str, str]]]:
    """The outbox with the component's two ways out replaced by a list of (way, body)."""
    sent: list[tuple[str, str]] = []

    def way(name: str) -> Any:
        return lambda el: sent.append((name, el.findtext(BODY) or ""))

    service = SimpleNamespace(domain=DOMAIN, send_element=way("at once"), send_bulk=way("bulk"),
                              app=SimpleNamespace(metrics=Metrics()))
    outbox = StanzaOutbox(service, SimpleNamespace())  # type: ignore[arg-type]
    outbox.engine = SimpleNamespace(queue_jid=lambda q: f"{q}@{DOMAIN}",  # type: ignore[assignment]
                                    session_jid=lambda i: f"t-{i}@{DOMAIN}")
    return outbox, sent


def test_a_newcomers_place_goes_at_once_and_updates_and_other_notices_may_wait():
    outbox, sent = desk()
    t = Ticket(id="t1", queue="help", entry="help", customer="c@example.com", customer_jid="c@example.com/r",
               lang="en", created_at=0.0)
    outbox.customer_notice(t, "welcome")
    outbox.customer_notice(t, "you are number 3", status=(2, 120))
    outbox.customer_notice(t, "you are number 2", status=(1, 60), update=True)
    outbox.customer_notice(t, "no agent yet", transient=True)
    assert sent == [("bulk", "welcome"), ("at once", "you are number 3"), ("bulk", "you are number 2"),
                    ("bulk", "no agent yet")]
