"""The demo web site of ``switchboard dev``: a shop page with the chat widget, the agent console, the dashboard.

The pages are static files (``web/pages/``, ``demo/shop.html``) and the bundles
``make web`` builds (``web/dist/``); they are copied into one folder of the
state with the local addresses filled in (``@@NAME@@`` placeholders in HTML),
and served by a small threaded HTTP server on loopback. The browser parts are
XMPP clients over the server's WebSocket: this server only hands out files.
"""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
DEMO = ROOT / "demo"

#: page name in the site -> source file
PAGES = {
    "index.html": DEMO / "shop.html",
    "console.html": WEB / "pages" / "console.html",
    "dashboard.html": WEB / "pages" / "dashboard.html",
}


def build(target: Path, values: dict[str, str]) -> list[str]:
    """Fill ``target`` with the pages and bundles; returns what is missing (e.g. bundles not built)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    missing: list[str] = []
    for name, source in PAGES.items():
        if not source.exists():
            missing.append(str(source.relative_to(ROOT)))
            continue
        page = source.read_text(encoding="utf-8")
        for key, value in values.items():
            page = page.replace(f"@@{key}@@", _attr(value))
        (target / name).write_text(page, encoding="utf-8")
    bundles = sorted((WEB / "dist").glob("*.js")) if (WEB / "dist").is_dir() else []
    for bundle in bundles:
        shutil.copy2(bundle, target / bundle.name)
    if not bundles:
        missing.append("web/dist/*.js (run make web)")
    return missing


def _attr(value: str) -> str:
    """Values land in HTML attributes: escape what could end one."""
    return (value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
            .replace(">", "&gt;").replace("'", "&#39;"))


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Requests are not logged: the demo's console shows the component's log."""

    def end_headers(self) -> None:
        # Pages change on every start; never let a browser keep an old bundle.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class StaticSite:
    """Serves one folder on 127.0.0.1 from a background thread (port 0: any free port)."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        handler = functools.partial(_Quiet, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="static-site", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "StaticSite":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
