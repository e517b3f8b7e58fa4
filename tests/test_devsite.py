"""``make run``'s demo: the support desk it configures and the web site it serves."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from types import SimpleNamespace

from component import devserver, devsite
from plugins.support_bot.kb_import import parse

VALUES = {"WEBSOCKET": "ws://127.0.0.1:5280/xmpp-websocket", "HOST": "localhost", "GUEST_HOST": "guest.localhost",
          "SUPPORT_DOMAIN": "support.localhost", "QUEUE": "help@support.localhost"}


def test_demo_support_desk_has_reports_and_a_bilingual_knowledge_base():
    support = devserver._services("localhost")["support.localhost"]
    assert {"support", "support_bot", "support_reports"} <= set(support)
    seed = Path(support["support_bot"]["seed_files"]["help"])
    parsed = parse(seed.read_text(encoding="utf-8"))
    assert not parsed.errors
    langs = [d.lang for d in parsed.drafts]
    assert langs.count("zh") >= 12 and langs.count("en") >= 12
    text = " ".join(d.question + " " + d.answer for d in parsed.drafts).lower()
    for topic in ("order", "delivery", "return", "invoice", "opening hours", "发票", "退货", "营业时间"):
        assert topic in text, topic


def test_site_fills_the_pages_and_serves_them(tmp_path: Path):
    missing = devsite.build(tmp_path / "www", {**VALUES, "QUEUE": "help@support.localhost\" onload=\"x"})
    assert not [m for m in missing if m.endswith(".html")]
    shop = (tmp_path / "www" / "index.html").read_text(encoding="utf-8")
    assert 'data-websocket="ws://127.0.0.1:5280/xmpp-websocket"' in shop
    assert 'data-queue="help@support.localhost&quot; onload=&quot;x"' in shop  # values cannot leave the attribute
    for page in ("console.html", "dashboard.html"):
        assert "@@WEBSOCKET@@" not in (tmp_path / "www" / page).read_text(encoding="utf-8")
    site = devsite.StaticSite(tmp_path / "www").start()
    try:
        with urllib.request.urlopen(f"{site.url}/dashboard.html", timeout=5) as answer:
            assert answer.headers["Cache-Control"] == "no-store"
            assert b"switchboard-dashboard.js" in answer.read()
    finally:
        site.stop()


def test_banner_names_the_pages_next_to_the_accounts():
    server = SimpleNamespace(host="localhost", ports=SimpleNamespace(c2s=5222, http=5280), guest_host="guest.localhost",
                             state_dir="state/dev/prosody")
    site = SimpleNamespace(url="http://127.0.0.1:8380")
    text = devserver.banner(server, {"agent": "pw", "supervisor": "pw2"}, {"support.localhost": {}},
                            Path("state/dev/switchboard.toml"), site, [])
    assert "http://127.0.0.1:8380/console.html" in text and "http://127.0.0.1:8380/dashboard.html" in text
    assert text.index("supervisor@localhost") < text.index("dashboard.html")
    assert json.dumps(devserver.site_values(server))  # plain strings only
