"""The browser bundles are rebuilt from the lock file by the Makefile and stay small."""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"
MAX_GZIP = 150 * 1024


def inputs_digest() -> str:
    """The same digest as web/build.mjs: each input's name and content, names sorted."""
    names = ["build.mjs", "package.json", "package-lock.json",
             *(p.relative_to(WEB).as_posix() for p in (WEB / "src").rglob("*") if p.is_file())]
    h = hashlib.sha256()
    for name in sorted(names):
        h.update(f"{name}\n".encode() + (WEB / name).read_bytes() + b"\n")
    return h.hexdigest()


def test_bundle_is_built_from_the_lock_file_and_these_sources():
    stamp = WEB / "dist" / "inputs.sha256"
    assert stamp.exists(), "web/dist is missing: run `make web` (make test does it)"
    # npm ci installs exactly the lock file (and refuses one that does not match package.json)
    assert json.loads((WEB / "package-lock.json").read_text())["lockfileVersion"] >= 3
    assert stamp.read_text().strip() == inputs_digest(), "web/dist was built from other sources: run `make web`"


def test_widget_bundle_is_small_and_self_contained():
    js = (WEB / "dist" / "switchboard-widget.js").read_bytes()
    assert len(gzip.compress(js)) <= MAX_GZIP
    # one classic script, nothing loaded at run time
    assert b"import(" not in js and b"require(" not in js
