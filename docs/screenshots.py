"""Retake the README's screenshots: ``.venv/bin/python docs/screenshots.py`` (after ``make web``).

Starts ``switchboard dev`` on spare ports in a throw-away state folder, then drives headless
Chromium: a customer asks the widget on the demo shop page in Chinese and asks for a person, the
agent accepts in the console and answers, and the supervisor's dashboard shows it all. Writes
``docs/widget.png``, ``docs/console.png`` and ``docs/dashboard.png``. Chinese needs a CJK font
(Debian: ``apt-get install fonts-wqy-microhei``).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import async_playwright, expect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from component.localserver import free_port  # noqa: E402
from tests.web.shop import launch  # noqa: E402

DOCS = ROOT / "docs"


def start_demo(state: Path) -> tuple[subprocess.Popen, str, dict[str, str]]:
    ports = [free_port() for _ in range(4)]
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "switchboard"), "dev", "--state", str(state),
                             "--c2s-port", str(ports[0]), "--component-port", str(ports[1]),
                             "--http-port", str(ports[2]), "--web-port", str(ports[3])],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    for line in proc.stdout:  # type: ignore[union-attr]
        if "connected and authenticated" in line and "support." in line:
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the demo did not start")
    users = json.loads((state / "dev-secrets.json").read_text())["users"]
    return proc, f"http://127.0.0.1:{ports[3]}", users


async def login(page, url: str, jid: str, password: str) -> None:
    await page.goto(url)
    await page.fill("input[name=jid]", jid)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")


async def main() -> None:
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout
    if not fonts.strip():
        raise SystemExit("no Chinese font: apt-get install fonts-wqy-microhei")
    with tempfile.TemporaryDirectory(prefix="switchboard-shots-") as tmp:
        proc, site, users = start_demo(Path(tmp))
        try:
            async with async_playwright() as pw:
                browser = await launch(pw)
                board = await browser.new_page(viewport={"width": 1100, "height": 760}, locale="en-US")
                await login(board, f"{site}/dashboard.html", "supervisor@localhost", users["supervisor"])
                await board.wait_for_selector("[data-kpi='waiting']")
                agent = await browser.new_page(viewport={"width": 1000, "height": 640}, locale="en-US")
                await login(agent, f"{site}/console.html", "agent@localhost", users["agent"])
                await agent.wait_for_selector("select[name=status]")

                shop = await browser.new_page(viewport={"width": 900, "height": 680}, locale="zh-CN")
                await shop.goto(f"{site}/")
                await shop.locator("#switchboard-widget .sb-bubble").click()
                box = shop.locator("#switchboard-widget textarea").last
                for text in ("发票怎么开？", "转人工"):
                    await box.fill(text)
                    await box.press("Enter")
                    await asyncio.sleep(1.0)
                await agent.click(".offer .accept", timeout=15000)
                await agent.wait_for_selector(".msg.customer")
                await agent.fill("textarea[name=reply]", "您好，我是客服小林。请问您需要开公司发票吗？")
                await agent.press("textarea[name=reply]", "Enter")
                await expect(shop.locator(".sb-msg[data-from=agent]")).to_be_visible()
                await asyncio.sleep(1.5)  # today's figures follow within a second
                await shop.screenshot(path=str(DOCS / "widget.png"))
                await agent.screenshot(path=str(DOCS / "console.png"))
                await board.screenshot(path=str(DOCS / "dashboard.png"), full_page=True)
                await browser.close()
        finally:
            proc.terminate()
            proc.wait(15)
    for name in ("widget", "console", "dashboard"):
        print(f"docs/{name}.png: {(DOCS / f'{name}.png').stat().st_size // 1024} KiB")


if __name__ == "__main__":
    asyncio.run(main())
