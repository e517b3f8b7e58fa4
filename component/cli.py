"""The ``switchboard`` command line.

The core's own commands (run, check-config, plugins, dev, migrate, backup) are
declared here; every other command comes from an installed plugin
(``Plugin.command_line``, see ``component/cli_kit.py``). The core knows no plugin
by name: it lists the packages under ``plugins/`` and asks each for its commands.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import pkgutil
import sys
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.engine import make_url

from . import __version__
from .cli_kit import EXIT_FAILED, Actor, CliCommand, CliContext, CliError, common_options, config_option
from .config import ConfigError, load
from .plugin import Plugin, plugin_class, resolve
from .storage import SchemaMismatch

EXIT_CONFIG = 2


def _load(path: str):  # type: ignore[no-untyped-def]
    config = load(path)
    from .balancing import check_shareable

    for i, service in enumerate(config.services):
        order = resolve(service.plugins, config.source, f"services[{i}].plugins")
        check_shareable(config, f"services[{i}].plugins", order)
    return config


def installed_plugins() -> list[str]:
    """The plugin packages of this installation (found, not imported)."""
    spec = importlib.util.find_spec("plugins")
    if spec is None or not spec.submodule_search_locations:
        return []
    return sorted(m.name for m in pkgutil.iter_modules(spec.submodule_search_locations) if m.ispkg)


def plugin_commands() -> list[tuple[type[Plugin], CliCommand]]:
    """Every command the installed plugins declare; two plugins may not claim one word."""
    found: list[tuple[type[Plugin], CliCommand]] = []
    owners: dict[str, str] = {name: "the core" for name in CORE_COMMANDS}
    for name in installed_plugins():
        try:
            cls = plugin_class(name)
        except ConfigError:
            continue
        for command in cls.command_line:
            if command.name in owners:
                raise RuntimeError(f"plugin {name} declares the command {command.name!r}, "
                                   f"already declared by {owners[command.name]}")
            owners[command.name] = f"plugin {name}"
            found.append((cls, command))
    return found


# -- the core's commands ----------------------------------------------------
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
    print(f"  database  {hide_password(config.database_url)}")
    print(f"  admins    {', '.join(config.admins) or '(none)'}")
    if config.balancing.slots > 1 or config.balancing.process_slots is not None:
        print(f"  slots     {config.balancing.mine or '(none: stand-by)'} of {config.balancing.slots} per domain")
    for i, service in enumerate(config.services):
        order = resolve(service.plugins, config.source, f"services[{i}].plugins")
        print(f"  service   {service.domain}: plugins {', '.join(cls.name for cls, _ in order) or '(none)'}")
    return 0


def hide_password(url: str) -> str:
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def cmd_plugins(args: argparse.Namespace) -> int:
    """List the plugins this installation ships, with their options as documented TOML."""
    from .config import render_options_toml

    for name in installed_plugins():
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
        if cls.command_line:
            print("# command line: " + ", ".join(f"switchboard {c.name}" for c in cls.command_line))
        print("\n".join(render_options_toml(cls.Options, f"services.plugins.{name}")))
        print()
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from .devserver import main as dev_main

    return dev_main(args)


def cmd_migrate(args: argparse.Namespace) -> int:
    from . import logs
    from .maintenance import migrate

    logs.setup("debug" if args.verbose else "warning")
    return asyncio.run(migrate(_load(args.config), sys.stdout))


def cmd_backup(args: argparse.Namespace) -> int:
    from . import logs
    from .maintenance import backup

    logs.setup("debug" if args.verbose else "warning")
    return asyncio.run(backup(_load(args.config), args.output, sys.stdout, sys.stderr))


CORE_COMMANDS = ("run", "check-config", "plugins", "dev", "migrate", "backup")


# -- plugin commands ----------------------------------------------------------
async def execute(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one parsed plugin command: open the app without connecting, pick the service, act."""
    from .app import App

    out, err = out or sys.stdout, err or sys.stderr
    plugin: str = args.plugin
    command: CliCommand = args.cli_command
    app: App | None = None
    try:
        actor = Actor.parse(getattr(args, "as_jid", None))
        config = load(args.config)
        needed = (plugin, *command.needs)
        candidates = [s for s in config.services if all(n in s.plugins for n in needed)
                      and (args.service is None or s.domain == args.service)]
        if args.service is not None and not any(s.domain == args.service for s in config.services):
            raise CliError(f"no service {args.service} in {config.source}")
        if not candidates:
            raise CliError(f"{' and '.join(needed)} do not run on {args.service or 'any service'} "
                           f"in {config.source}")
        _check_database_exists(config.database_url)
        app = App(config)
        try:
            await app.start(connect=False, migrate=False)
        except SchemaMismatch as exc:
            raise CliError(str(exc)) from exc
        ctx = CliContext(app, app.services[candidates[0].domain], actor, out, err, args.lang or "en")
        return await args.action(ctx, args)
    except CliError as error:
        print(f"switchboard {command.name}: {error}", file=err)
        return EXIT_FAILED
    finally:
        if app is not None:
            await app.stop()


def _check_database_exists(url: str) -> None:
    """Commands work on the component's database: never create an empty one by mistake."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not Path(database).exists():
            raise CliError(f"no database at {database} (has the component run with this configuration?)")


def _run_plugin_command(args: argparse.Namespace) -> int:
    from . import logs

    logs.setup("debug" if args.verbose else "warning")
    return asyncio.run(execute(args))


def _add_plugin_commands(sub: Any) -> None:
    for cls, command in plugin_commands():
        common = common_options()
        parser = sub.add_parser(command.name, help=command.help, description=command.description or command.help,
                                parents=[common] if command.leaf else [])
        command.build(parser, common)
        parser.set_defaults(func=_run_plugin_command, plugin=cls.name, cli_command=command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="switchboard",
        description="Switchboard: group chat, archives, recall and a support desk for any XMPP server "
                    "(an XEP-0114 component). Commands after 'backup' come from the installed plugins.")
    parser.add_argument("--version", action="version", version=f"switchboard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="connect to the XMPP server and serve the configured domains")
    config_option(run)
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                     help="override logging.level from the file")
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check-config", help="validate a configuration file and print what it would start")
    check.add_argument("config", help="the TOML configuration file")
    check.set_defaults(func=cmd_check_config)

    plugins_cmd = sub.add_parser("plugins", help="list the plugins, their commands and options as documented TOML")
    plugins_cmd.add_argument("name", nargs="*", help="only these plugins")
    plugins_cmd.set_defaults(func=cmd_plugins)

    dev = sub.add_parser("dev", help="start a local Prosody and the component with demo accounts (make run)")
    dev.add_argument("--state", default="state/dev", help="folder for Prosody's and our state")
    dev.add_argument("--host", default="localhost", help="the XMPP domain of the local server")
    dev.add_argument("--c2s-port", type=int, default=5222, help="client port of the local Prosody")
    dev.add_argument("--component-port", type=int, default=5347, help="XEP-0114 port of the local Prosody")
    dev.add_argument("--http-port", type=int, default=5280, help="BOSH/WebSocket port of the local Prosody")
    dev.add_argument("--web-port", type=int, default=8380,
                     help="port of the demo web site (shop page with the chat widget, agent console, dashboard)")
    dev.set_defaults(func=cmd_dev)

    migrate = sub.add_parser("migrate", help="bring the database schema of every configured plugin up to date "
                                             "(also done at start)")
    config_option(migrate)
    migrate.add_argument("--verbose", "-v", action="store_true", help="log everything (debug)")
    migrate.set_defaults(func=cmd_migrate)

    backup = sub.add_parser("backup", help="a consistent copy of the SQLite database, safe while running "
                                           "(PostgreSQL: prints the pg_dump to run)")
    config_option(backup)
    backup.add_argument("output", help="the file to write (must not exist)")
    backup.add_argument("--verbose", "-v", action="store_true", help="log everything (debug)")
    backup.set_defaults(func=cmd_backup)

    _add_plugin_commands(sub)
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
