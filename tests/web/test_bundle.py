"""The browser bundles are rebuilt from the lock file by the Makefile and stay small."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"
MAX_GZIP = 150 * 1024


def test_bundle_is_built_from_the_lock_file():
    built = WEB / "dist" / ".built"
    assert built.exists(), "web/dist is missing: run `make web` (make test does it)"
    lock = json.loads((WEB / "package-lock.json").read_text())
    # npm ci refuses a lock file that does not match package.json; a stale bundle is older than its inputs
    assert lock["lockfileVersion"] >= 3
    inputs = [WEB / "package-lock.json", WEB / "package.json", WEB / "build.mjs", *(WEB / "src").rglob("*")]
    newest = max(p.stat().st_mtime for p in inputs if p.is_file())
    assert built.stat().st_mtime >= newest, "web/dist is older than its sources: run `make web`"


def test_widget_bundle_is_small_and_self_contained():
    js = (WEB / "dist" / "switchboard-widget.js").read_bytes()
    assert len(gzip.compress(js)) <= MAX_GZIP
    # one classic script, nothing loaded at run time
    assert b"import(" not in js and b"require(" not in js
