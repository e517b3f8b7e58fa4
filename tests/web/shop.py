"""A website with the widget for a real Chromium: a small HTTP server on loopback serving shop pages
and the built bundle from web/dist; the widget's WebSocket goes to the test session's real Prosody.

(A page served by Playwright's request routing has no address, so Chromium counts it as a public
site and refuses its connections to loopback: a real server it is.)
"""
from __future__ import annotations

import html
import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from component.localserver import free_port  # noqa: F401 - for tests pointing the widget at nothing
from tests.support_reports.browser import chromium

DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
#: Arguments that keep headless Chromium light on a shared machine.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def page_html(ws_port: int, queue: str, title: str, **attrs: str) -> str:
    data = {"queue": queue, "websocket": f"ws://127.0.0.1:{ws_port}/xmpp-websocket", **attrs}
    tag = " ".join(f'data-{k}="{html.escape(v)}"' for k, v in data.items())
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><h1>Demo shop</h1><p>Orders and delivery.</p>"
            f"<script src='/switchboard-widget.js' {tag} async></script></body></html>")


class ShopServer:
    """Serves ``/switchboard-widget.js`` and the pages added with :meth:`add` (``/p/<n>``)."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        self._ids = itertools.count(1)
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                if path == "/switchboard-widget.js":
                    body, kind = (DIST / "switchboard-widget.js").read_bytes(), "application/javascript"
                elif path in pages:
                    body, kind = pages[path], "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add(self, text: str) -> str:
        path = f"/p/{next(self._ids)}"
        self.pages[path] = text.encode()
        return self.origin + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


async def launch(playwright: Any) -> Any:
    return await playwright.chromium.launch(executable_path=chromium(), args=ARGS)


async def shop(browser: Any, server: ShopServer, ws_port: int, queue: str, locale: str = "en-US",
               title: str = "My orders", init_script: str = "", **attrs: str) -> tuple[Any, Any]:
    """A fresh browser profile (its own storage) with a shop page open: (context, page)."""
    context = await browser.new_context(locale=locale)
    if init_script:
        await context.add_init_script(init_script)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    await page.goto(server.add(page_html(ws_port, queue, title, **attrs)))
    return context, page
