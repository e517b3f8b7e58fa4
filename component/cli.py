"""The ``switchboard`` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from . import __version__
from .config import ConfigError, load
from .plugin import resolve

EXIT_CONFIG = 2


def _load(path: str):  # type: ignore[no-untyped-def]
    config = load(path)
    for i, service in enumerate(config.services):
        resolve(service.plugins, config.source, f"services[{i}].plugins")
    return config


def cmd_run(args: argparse.Namespace) -> int:
    from . import logs
    from .app import App

    config = _load(args.config)
    logs.setup(args.log_level or config.logging.level, config.logging.format, config.logging.file)
    return asyncio.run(App(config).run())


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args.config)
    print(f"{config.source}: OK")
    print(f"  server    {config.server.host}:{config.server.port}")
    url = config.database_url
    if "@" in url:  # hide a password in the URL
        scheme, rest = url.split("://", 1)
        url = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    print(f"  database  {url}")
    print(f"  admins    {', '.join(config.admins) or '(none)'}")
    for i, service in enumerate(config.services):
        order = resolve(service.plugins, config.source, f"services[{i}].plugins")
        print(f"  service   {service.domain}: plugins {', '.join(cls.name for cls, _ in order) or '(none)'}")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """List the plugins this installation ships, with their options as documented TOML."""
    import pkgutil

    import plugins as plugin_package

    from .config import render_options_toml
    from .plugin import plugin_class

    names = sorted(m.name for m in pkgutil.iter_modules(plugin_package.__path__) if m.ispkg)
    for name in names:
        if args.name and name not in args.name:
            continue
        try:
            cls = plugin_class(name)
        except ConfigError:
            continue
        doc = (cls.__doc__ or (sys.modules[cls.__module__.rsplit(".", 1)[0]].__doc__ or "")).strip()
        print(f"# --- plugin {name}" + (f" (needs: {', '.join(cls.depends)})" if cls.depends else ""))
        if doc:
            print("# " + doc.splitlines()[0])
        print("\n".join(render_options_toml(cls.Options, f"services.plugins.{name}")))
        print()
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from .devserver import main as dev_main

    return dev_main(args)


def cmd_report(args: argparse.Namespace) -> int:
    from plugins.support_reports.cli import run as run_report

    return run_report(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard",
        description="Switchboard: group chat, archives, recall and a support desk for any XMPP server "
                    "(an XEP-0114 component).")
    parser.add_argument("--version", action="version", version=f"switchboard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="connect to the XMPP server and serve the configured domains")
    run.add_argument("--config", "-c", required=True, help="the TOML configuration file")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                     help="override logging.level from the file")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate a configuration file and print what it would start")
    check.add_argument("config", help="the TOML configuration file")
    check.set_defaults(func=cmd_check_config)

    plugins_cmd = sub.add_parser("plugins", help="list the plugins and their options as documented TOML")
    plugins_cmd.add_argument("name", nargs="*", help="only these plugins")
    plugins_cmd.set_defaults(func=cmd_plugins)

    dev = sub.add_parser("dev", help="start a local Prosody and the component with demo accounts (make run)")
    dev.add_argument("--state", default="state/dev", help="folder for Prosody's and our state")
    dev.add_argument("--host", default="localhost", help="the XMPP domain of the local server")
    dev.add_argument("--c2s-port", type=int, default=5222, help="client port of the local Prosody")
    dev.add_argument("--component-port", type=int, default=5347, help="XEP-0114 port of the local Prosody")
    dev.add_argument("--http-port", type=int, default=5280, help="BOSH/WebSocket port of the local Prosody")
    dev.set_defaults(func=cmd_dev)

    report = sub.add_parser("report", help="support figures (conversations, wait, first response, CSAT...) "
                                           "as CSV, JSON or an HTML page with charts")
    report.add_argument("--config", "-c", required=True, help="the TOML configuration file")
    report.add_argument("--since", help="first day (YYYY-MM-DD) or time (ISO 8601); default: a week ago")
    report.add_argument("--until", help="last day, included (YYYY-MM-DD), or an exclusive end time; default: today")
    report.add_argument("--queue", help="only this queue (its name, e.g. help)")
    report.add_argument("--format", choices=("csv", "json", "html"), default="csv", help="default csv")
    report.add_argument("--output", "-o", help="write to this file instead of standard output")
    report.add_argument("--group", choices=("queue", "agent", "total"), default="queue",
                        help="rows per queue, agent or in total (CSV and JSON; default queue)")
    report.add_argument("--period", choices=("day", "week", "all"), default="day",
                        help="rows per day, ISO week or over the whole range (default day)")
    report.add_argument("--lang", choices=("en", "zh"), help="language of labels (default: the plugin's option)")
    report.add_argument("--tz", help="time zone of days and weeks (default: the plugin's option, else UTC)")
    report.set_defaults(func=cmd_report)

    from .admin_cli import register as register_admin
    register_admin(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_CONFIG
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"switchboard: configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
