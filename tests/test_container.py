"""The Containerfile: what the image promises (non-root, config and secrets from outside), and a real
build where a builder answers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTAINERFILE = ROOT / "Containerfile"


def test_image_runs_as_a_numeric_non_root_user_and_keeps_secrets_out():
    text = CONTAINERFILE.read_text(encoding="utf-8")
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users and users[-1].isdigit() and users[-1] != "0"
    assert "ENV SWITCHBOARD_CONFIG=/etc/switchboard/switchboard.toml" in text
    assert 'ENTRYPOINT ["switchboard"]' in text and "HEALTHCHECK" in text
    env_lines = [line for line in text.splitlines() if line.lstrip().startswith(("ENV", "ARG"))]
    assert not any("SECRET" in line.upper() or "PASSWORD" in line.upper() for line in env_lines)
    ignore = (ROOT / ".containerignore").read_text(encoding="utf-8")
    assert ignore.splitlines()[1] == "*" and "!component/" in ignore and "!plugins/" in ignore
    assert (ROOT / ".dockerignore").read_text(encoding="utf-8") == ignore


def test_config_file_from_the_environment(tmp_path):
    """The image runs ``switchboard run`` with no argument: SWITCHBOARD_CONFIG names the file."""
    path = tmp_path / "switchboard.toml"
    path.write_text(f'state_dir = "{tmp_path}"\n[[services]]\ndomain = "a.example"\nsecret_env = "A_SECRET"\n')
    env = {**os.environ, "SWITCHBOARD_CONFIG": str(path), "A_SECRET": "from the environment"}
    result = subprocess.run([sys.executable, "-m", "component.cli", "check-config", str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([sys.executable, "-m", "component.cli", "migrate"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    env.pop("SWITCHBOARD_CONFIG")
    result = subprocess.run([sys.executable, "-m", "component.cli", "migrate"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2 and "--config" in result.stderr


def _builder() -> tuple[str | None, str]:
    """A container builder that works here, or why there is none."""
    reasons = []
    for tool in ("podman", "docker", "buildah"):
        path = shutil.which(tool)
        if path is None:
            reasons.append(f"no {tool}")
            continue
        probe = [path, "info"] if tool != "buildah" else [path, "version"]
        try:
            ok = subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
        if ok:
            return path, ""
        reasons.append(f"{tool} is installed but does not answer ('{tool} info' fails: no daemon or no rights)")
    return None, "; ".join(reasons)


def test_image_builds_and_runs_as_non_root():
    builder, why = _builder()
    if builder is None:
        pytest.skip(f"no container builder available: {why}")
    if not os.environ.get("SWITCHBOARD_TEST_CONTAINER"):
        pytest.skip(f"{builder} works here, but building the image takes minutes and a network for the "
                    "base image: set SWITCHBOARD_TEST_CONTAINER=1 to run it")
    tag = "switchboard-test:latest"
    build = subprocess.run([builder, "build", "-f", str(CONTAINERFILE), "-t", tag, str(ROOT)],
                           capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    who = subprocess.run([builder, "run", "--rm", "--entrypoint", "id", tag, "-u"],
                         capture_output=True, text=True, timeout=120)
    assert who.stdout.strip() == "10001"
    helped = subprocess.run([builder, "run", "--rm", tag, "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "kb" in helped.stdout and "rooms" in helped.stdout
