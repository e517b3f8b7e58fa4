"""``switchboard dev`` (what ``make run`` starts): a local Prosody, the component, demo accounts.

Everything lives in one state folder: Prosody's config, data and logs, our
SQLite database, the generated secrets and demo passwords (kept, so a second
run reuses the same accounts), the demo web site. The support queue starts
with a demo knowledge base (``demo/kb-shop.json``, Chinese and English) so
the bot answers at once. Ctrl-C stops the component, then Prosody.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
from pathlib import Path

from . import devsite, logs
from .app import App
from .config import ConfigError, parse
from .localserver import LocalProsody, ProsodyPorts
from .plugin import plugin_class

DEMO_USERS = ("alice", "bob", "carol", "agent", "agent2", "supervisor", "admin")
#: The demo knowledge base (zh/en): orders, delivery, returns, invoices, opening hours.
DEMO_KB = devsite.DEMO / "kb-shop.json"


def _available(plugin: str) -> bool:
    try:
        plugin_class(plugin)
    except ConfigError:
        return False
    except Exception as error:  # noqa: BLE001 - a broken plugin should not stop the demo
        print(f"switchboard dev: skipping plugin {plugin}: {error}")
        return False
    return True


def _pick(*names: str) -> dict[str, dict]:
    """The named plugins this checkout ships whose dependencies are picked too (in order)."""
    picked: dict[str, dict] = {}
    for name in names:
        if _available(name) and all(dep in picked for dep in plugin_class(name).depends):
            picked[name] = {}
    return picked


def _services(host: str) -> dict[str, dict[str, dict]]:
    """Rooms and support services with every plugin this checkout ships."""
    rooms = _pick("muc", "mam", "recall", "admin", "echo")
    support = _pick("mam", "support", "support_bot", "support_web", "support_reports", "admin")
    if "support" in support:
        support["support"] = {"queues": [{"name": "help", "title": "Help desk",
                                          "agents": [f"agent@{host}", f"agent2@{host}"],
                                          "supervisors": [f"supervisor@{host}"]}]}
        if "support_bot" in support:
            support["support_bot"] = {"seed_files": {"help": str(DEMO_KB)}}
    else:
        support = {"echo": {}}
    return {f"rooms.{host}": rooms, f"support.{host}": support}


def _load_or_create_secrets(state: Path, domains: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    path = state / "dev-secrets.json"
    data = json.loads(path.read_text()) if path.exists() else {"components": {}, "users": {}}
    for domain in domains:
        data["components"].setdefault(domain, secrets.token_urlsafe(18))
    for user in DEMO_USERS:
        data["users"].setdefault(user, secrets.token_urlsafe(9))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    return data["components"], data["users"]


def _toml(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)  # JSON strings/arrays are valid TOML here


def _inline(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return _toml(value)


def write_config(state: Path, host: str, port: int, services: dict[str, dict[str, dict]],
                 component_secrets: dict[str, str]) -> Path:
    lines = ['state_dir = "."', f'admins = ["admin@{host}"]', "[server]", 'host = "127.0.0.1"',
             f"port = {port}", "[logging]", 'level = "info"']
    for domain, plugins in services.items():
        lines += ["[[services]]", f"domain = {_toml(domain)}", 'secret_file = "secrets/' + domain + '"']
        for name, options in plugins.items():
            lines.append(f"[services.plugins.{name}]")
            lines += [f"{k} = {_inline(v)}" for k, v in options.items()]
    secret_dir = state / "secrets"
    secret_dir.mkdir(mode=0o700, exist_ok=True)
    for domain, value in component_secrets.items():
        fd = os.open(secret_dir / domain, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
    path = state / "switchboard.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(path, 0o640)
    return path


def site_values(server: LocalProsody) -> dict[str, str]:
    """What the demo pages need to know (``@@NAME@@`` in them)."""
    host = server.host
    return {"WEBSOCKET": f"ws://127.0.0.1:{server.ports.http}/xmpp-websocket", "HOST": host,
            "GUEST_HOST": server.guest_host or "", "SUPPORT_DOMAIN": f"support.{host}",
            "QUEUE": f"help@support.{host}"}


def banner(server: LocalProsody, users: dict[str, str], services: dict[str, dict[str, dict]],
           config: Path, site: "devsite.StaticSite | None" = None, missing: list[str] = ()) -> str:
    host = server.host
    web = []
    if site is not None:
        web = [
            "  In a browser:",
            f"    demo shop with the chat widget   {site.url}/",
            f"    agent console                    {site.url}/console.html   (agent@{host}, agent2@{host})",
            f"    supervisor dashboard             {site.url}/dashboard.html (supervisor@{host}, admin@{host})",
            *[f"    missing: {item}" for item in missing],
        ]
    rows = [
        "",
        "Switchboard is running.",
        f"  XMPP server   {host} on 127.0.0.1:{server.ports.c2s} (no TLS on loopback: allow plain login)",
        f"  WebSocket     ws://127.0.0.1:{server.ports.http}/xmpp-websocket",
        f"  BOSH          http://127.0.0.1:{server.ports.http}/http-bind",
        f"  Guests        {server.guest_host} (anonymous, support desk only: the website chat widget)",
        "  Services      " + "; ".join(f"{d} ({', '.join(p)})" for d, p in services.items()),
        "  Demo accounts (password):",
        *[f"    {(user + '@' + host):<28} {password}" for user, password in users.items()],
        *web,
        f"  Rooms: join any room@rooms.{host}; support: write to help@support.{host} (the bot answers from "
        "a demo knowledge base: orders, delivery, returns, invoices, opening hours)",
        f"  Config {config}; logs in {server.state_dir}",
        "  Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(rows)


async def _serve(config_path: Path) -> int:
    from .config import load

    app = App(load(config_path))
    return await app.run()


def main(args: argparse.Namespace) -> int:
    state = Path(args.state).resolve()
    state.mkdir(parents=True, exist_ok=True)
    host = args.host
    services = _services(host)
    component_secrets, users = _load_or_create_secrets(state, list(services))
    ports = ProsodyPorts(args.c2s_port, args.component_port, args.http_port)
    server = LocalProsody(state / "prosody", host=host, components=component_secrets,
                          admins=[f"admin@{host}"], ports=ports,
                          guest_host=f"guest.{host}", guest_allowed=[f"support.{host}"])
    logs.setup("info")
    log = logging.getLogger("switchboard.dev")
    try:
        server.start()
    except RuntimeError as error:
        print(f"switchboard dev: Prosody did not start: {error}")
        return 1
    site = None
    try:
        for user, password in users.items():
            server.register(user, password)
        config_path = write_config(state, host, ports.component, services, component_secrets)
        parse(config_path.read_text(), str(config_path), state)  # fail early on a bad config
        missing = devsite.build(state / "www", site_values(server))
        try:
            site = devsite.StaticSite(state / "www", args.web_port).start()
        except OSError as error:
            print(f"switchboard dev: the demo web site cannot listen on port {args.web_port}: {error}")
        print(banner(server, users, services, config_path, site, missing), flush=True)
        log.info("starting the component", extra={"config": str(config_path)})
        return asyncio.run(_serve(config_path))
    except KeyboardInterrupt:
        return 0
    finally:
        if site is not None:
            site.stop()
        server.stop()
        print("Stopped Prosody and the component.", flush=True)
