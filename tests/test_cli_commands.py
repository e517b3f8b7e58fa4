"""The command line: plugins bring their commands, the core only dispatches; migrate, backup, kb.

These run against a database without any XMPP server (as an operator's shell does).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from component.cli import build_parser, installed_plugins, main
from component.cli_kit import CliCommand

from . import harness

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "support.localhost"
ADMIN = f"admin@{harness.HOST}"

KB_CSV = """问题,答案,相似问题,关键词,语言
如何重置密码？,"在登录页点击“忘记密码”，按提示操作。","忘记密码怎么办
密码找回","密码, 重置",zh
How do I reset my password?,"Click ""Forgot password"" on the sign-in page.",I forgot my password|Password reset,"password, reset",en
营业时间是什么时候？,周一至周五 9:00-18:00。,,时间,zh
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def write_config(folder: Path, url: str | None = None) -> str:
    services = {DOMAIN: {"support": {"queues": [{"name": "help", "agents": ["agent@localhost"]},
                                                {"name": "sales", "supervisors": ["sue@localhost"]}]},
                         "mam": {}, "support_bot": {}},
                "rooms.localhost": {"muc": {}, "mam": {}, "admin": {}}}
    path = folder / "switchboard.toml"
    path.write_text(harness.make_config_text(5347, services, folder / "state", url or harness.database_url(folder),
                                             admins=(ADMIN,)), encoding="utf-8")
    path.chmod(0o600)
    return str(path)


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = write_config(tmp_path)
    code, out, err = run("migrate", "-c", path)
    assert code == 0, err
    return path


def test_help_lists_what_the_plugins_bring_and_the_core_imports_no_plugin():
    result = subprocess.run([sys.executable, "-m", "component.cli", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    for word in ("run", "migrate", "backup", "rooms", "kb", "report"):
        assert re.search(rf"^\s+{word}\s", result.stdout, re.M), word
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "component").rglob("*.py")
                 if re.search(r"^\s*(from|import)\s+plugins\b", p.read_text(encoding="utf-8"), re.M)]
    assert offenders == []
    assert "admin" in installed_plugins() and "support_bot" in installed_plugins()


def test_two_plugins_cannot_claim_one_command(monkeypatch):
    from plugins.admin.plugin import AdminPlugin

    clash = CliCommand("kb", "a second kb", lambda parser, common: None)
    monkeypatch.setattr(AdminPlugin, "command_line", (*AdminPlugin.command_line, clash))
    with pytest.raises(RuntimeError, match="command 'kb'"):
        build_parser()


def test_migrate_is_idempotent_and_commands_refuse_an_old_schema(tmp_path):
    path = write_config(tmp_path)
    # Commands never create or upgrade a database behind the operator's back.
    code, _, err = run("kb", "list", "-c", path)
    assert code == 1 and ("no database at" in err or "switchboard migrate" in err), err
    code, out, _ = run("migrate", "-c", path)
    assert code == 0 and re.search(r"^support_bot\s+schema version \d+: migrated 0 -> \d+$", out, re.M)
    code, out, _ = run("migrate", "-c", path)
    assert code == 0 and "migrated" not in out and "up to date" in out


def test_backup_of_sqlite_while_open(tmp_path, config):
    if harness.POSTGRES is not None:
        pytest.skip("SQLite backup; the PostgreSQL advice is tested on its own")
    source = Path(harness.database_url(tmp_path).split("///", 1)[1])
    live = sqlite3.connect(source)  # a writer holding the database open, as a running component does
    live.execute("CREATE TABLE scratch (n INTEGER)")
    live.execute("INSERT INTO scratch VALUES (42)")
    live.commit()
    target = tmp_path / "copy.db"
    code, out, err = run("backup", "-c", config, str(target))
    assert code == 0, err
    assert "integrity ok" in out
    copy = sqlite3.connect(target)
    assert copy.execute("SELECT n FROM scratch").fetchall() == [(42,)]
    assert copy.execute("SELECT count(*) FROM core_schema_versions").fetchone()[0] >= 4
    copy.close()
    live.close()
    code, _, err = run("backup", "-c", config, str(target))
    assert code == 1 and "exists" in err
    assert not list(tmp_path.glob("*.part"))


def test_backup_of_postgresql_prints_pg_dump_without_the_password(tmp_path):
    path = write_config(tmp_path, "postgresql+asyncpg://sb:s3cret@db.example:5432/switchboard")
    code, out, err = run("backup", "-c", path, str(tmp_path / "x.dump"))
    assert code == 1 and out == ""
    assert "pg_dump --format=custom" in err and "db.example:5432/switchboard" in err and "s3cret" not in err


def _kb(config: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    if stdin is None:
        return run("kb", *args, "-c", config)
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        return run("kb", *args, "-c", config)
    finally:
        sys.stdin = old


def test_kb_import_list_search_and_round_trip(tmp_path, config):
    source = tmp_path / "kb.csv"
    source.write_text(KB_CSV, encoding="utf-8")
    code, out, err = _kb(config, "import", str(source), "--queue", "help")
    assert code == 0, err
    assert "3 added" in out and "3 entries now" in out

    code, out, _ = _kb(config, "list", "--queue", "help", "--json")
    entries = json.loads(out)
    by_question = {e["question"]: e for e in entries}
    assert {q: e["lang"] for q, e in by_question.items()} == {
        "如何重置密码？": "zh", "How do I reset my password?": "en", "营业时间是什么时候？": "zh"}
    assert by_question["如何重置密码？"]["alternatives"] == ["忘记密码怎么办", "密码找回"]
    assert by_question["How do I reset my password?"]["alternatives"] == ["I forgot my password", "Password reset"]
    assert by_question["How do I reset my password?"]["answer"] == 'Click "Forgot password" on the sign-in page.'

    code, out, _ = _kb(config, "search", "忘记密码了怎么办", "--queue", "help", "--json")
    assert code == 0 and json.loads(out)[0]["question"] == "如何重置密码？"
    code, out, _ = _kb(config, "search", "reset my password", "--queue", "help")
    assert code == 0 and "How do I reset my password?" in out.splitlines()[1]

    # Round trip through both formats into a fresh database: the same base, ids included.
    for fmt in ("json", "csv"):
        exported = tmp_path / f"kb.{fmt}"
        code, _, err = _kb(config, "export", "--queue", "help", "--format", fmt, "--output", str(exported))
        assert code == 0 and "exported 3 entries" in err
        other = tmp_path / f"other-{fmt}"
        other.mkdir()
        other_config = write_config(other)
        assert run("migrate", "-c", other_config)[0] == 0
        code, out, err = _kb(other_config, "import", str(exported), "--queue", "help")
        assert code == 0, err
        code, again, _ = _kb(other_config, "list", "--queue", "help", "--json")
        assert json.loads(again) == entries, fmt

    # Merging the export into the same queue changes nothing.
    code, out, _ = _kb(config, "import", str(tmp_path / "kb.json"), "--queue", "help")
    assert code == 0 and "0 added, 3 updated" in out and "3 entries now" in out


def test_kb_refusals_and_rights(tmp_path, config):
    (tmp_path / "kb.csv").write_text(KB_CSV, encoding="utf-8")
    assert _kb(config, "import", str(tmp_path / "kb.csv"), "--queue", "help")[0] == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nno answer here,\n,no question\n", encoding="utf-8")
    cases = [
        (("import", str(bad), "--queue", "help"), "2 problem(s)"),
        (("import", str(tmp_path / "absent.csv"), "--queue", "help"), "cannot read"),
        (("import", "-", "--queue", "help"), "the file is empty"),
        (("list",), "name the queue with --queue"),
        (("list", "--queue", "nowhere"), "no queue nowhere"),
        (("search", "  ", "--queue", "help"), "the question is empty"),
        (("search", "x", "--queue", "help", "--limit", "0"), "--limit is between 1 and 50"),
        (("import", str(tmp_path / "kb.csv"), "--queue", "help", "--replace"), "add --yes"),
        # Rights: an agent of help may not touch sales; a stranger nothing; an admin everything.
        (("list", "--queue", "sales", "--as", "agent@localhost"), "neither an agent nor a supervisor"),
        (("list", "--queue", "help", "--as", "carol@localhost"), "neither an agent nor a supervisor"),
        (("import", str(tmp_path / "kb.csv"), "--queue", "help", "--as", "sue@localhost"), "neither an agent"),
    ]
    for args, message in cases:
        code, out, err = _kb(config, *args, stdin="" if "-" in args else None)
        assert code == 1 and message in err, (args, err)
    code, out, _ = _kb(config, "list", "--json", "--as", "agent@localhost")  # their only queue
    assert code == 0 and len(json.loads(out)) == 3
    code, out, _ = _kb(config, "list", "--queue", "sales", "--json", "--as", "sue@localhost")
    assert code == 0 and json.loads(out) == []
    code, out, _ = _kb(config, "list", "--queue", "sales", "--json", "--as", ADMIN)
    assert code == 0
    # Replacing with --yes: the queue holds exactly the file.
    (tmp_path / "one.json").write_text('[{"question": "Q?", "answer": "A."}]', encoding="utf-8")
    code, out, _ = _kb(config, "import", str(tmp_path / "one.json"), "--queue", "help", "--replace", "--yes")
    assert code == 0 and "3 replaced; 1 entries now" in out
    # Usage errors are argparse's (status 2).
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["kb", "export", "--format", "xml", "-c", config])
    assert exc.value.code == 2


def test_plugins_lists_their_commands():
    code, out, _ = run("plugins", "support_bot", "admin")
    assert code == 0 and "# command line: switchboard kb" in out and "# command line: switchboard rooms" in out
    assert isinstance(build_parser(), argparse.ArgumentParser)
