"""The README's "Running next to ejabberd" snippets, started as they are (domains and ports swapped for
the test's): one ejabberd_service listener per domain, and Switchboard's services naming those ports."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from component.localejabberd import LocalEjabberd, available
from component.localprocess import free_ports

from . import harness

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.skipif(not available(), reason="ejabberd is not installed (apt-get install ejabberd)")]

README = Path(__file__).resolve().parent.parent / "README.md"


def snippets() -> tuple[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Running next to ejabberd", 1)[1].split("\n## ", 1)[0]
    yaml = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    toml = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    return yaml, toml


async def test_readme_listeners_and_configuration_work(tmp_path):
    yaml, toml = snippets()
    documented = tomllib.loads(toml)
    ports = {s["domain"]: s["port"] for s in documented["services"]}
    free = dict(zip(ports.values(), free_ports(len(ports))))
    items = yaml.split("listen:\n", 1)[1]
    for old, new in free.items():
        items = items.replace(f"port: {old}\n", f"port: {new}\n")
    local = {domain: domain.replace("example.com", "localhost") for domain in ports}
    for domain, test_domain in local.items():
        items = items.replace(f"{domain}:", f"{test_domain}:")
    secrets = dict(re.findall(r"\n      ([\w.]+):\n        password: \"([^\"]+)\"", items))
    assert set(secrets) == set(local.values())
    with LocalEjabberd(tmp_path / "ejabberd", extra_listeners=items) as server:
        server.register("alice", harness.password("alice"))
        services = {local["rooms.example.com"]: {"muc": {}},
                    local["support.example.com"]: {"mam": {}, "support": {}}}
        app = await harness.start_app(server.ports.component, services, tmp_path, secrets=secrets,
                                      service_ports={local[d]: free[p] for d, p in ports.items()},
                                      server_options={"max_stanza_bytes": documented["server"]["max_stanza_bytes"]})
        try:
            assert "max_stanza_size: 524288" in items and documented["server"]["max_stanza_bytes"] == 524288
            async with harness.slix_client(server.ports.c2s, "alice") as alice:
                for _ in range(4):
                    for domain, kind in ((local["rooms.example.com"], ("conference", "text")),
                                         (local["support.example.com"], ("collaboration", "workgroup"))):
                        info = await alice.plugin["xep_0030"].get_info(jid=domain, timeout=10)
                        assert kind in {(c, t) for c, t, _l, _n in info["disco_info"]["identities"]}
        finally:
            await app.stop()
