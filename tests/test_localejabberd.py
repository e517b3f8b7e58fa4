"""component.localejabberd: the test configuration it renders, and one real start."""

from __future__ import annotations

import socket

import pytest

from component.localejabberd import EjabberdPorts, LocalEjabberd, available, render
from component.localprocess import accepts, answers_c2s, free_port

pytestmark = pytest.mark.timeout(60)


def test_render_quotes_values_repeats_blocks_and_keeps_comments():
    template = ("# @@NOT_REPLACED@@ in a comment\nhosts: @@HOSTS@@\nlisten:\n"
                "#@@BEGIN L@@\n  - {port: @@PORT@@, hosts: @@H@@}\n#@@END L@@\nlast: @@NAME@@\n")
    text = render(template, {"HOSTS": ["a.test"], "NAME": 'say "hi"'},
                  {"L": [{"PORT": 1, "H": {"x.test": {"password": "p"}}}, {"PORT": 2, "H": {}}]})
    assert text == ('# @@NOT_REPLACED@@ in a comment\nhosts: ["a.test"]\nlisten:\n'
                    '  - {port: 1, hosts: {"x.test": {"password": "p"}}}\n  - {port: 2, hosts: {}}\n'
                    'last: "say \\"hi\\""\n')
    with pytest.raises(ValueError, match="@@MISSING@@"):
        render("a: @@MISSING@@\n", {})


def test_config_has_one_listener_per_domain_besides_the_shared_one(tmp_path):
    server = LocalEjabberd(tmp_path, components={"r.test": "s1", "q.test": "s2"})
    text = server.render()
    assert text.count("module: ejabberd_service") == 3
    assert 'hosts: {"r.test": {"password": "s1"}}' in text and 'hosts: {"q.test": {"password": "s2"}}' in text
    assert "s2s_access: \"none\"" in text
    assert "s2s_access: \"all\"" in LocalEjabberd(tmp_path, federation=True).render()


@pytest.mark.skipif(not available(), reason="ejabberd is not installed (apt-get install ejabberd)")
def test_start_register_and_stop(tmp_path):
    with LocalEjabberd(tmp_path / "e") as server:
        server.register("zed", "one")
        server.register("zed", "two")  # an existing account gets the new password
        assert server.api("check_password", user="zed", host="localhost", password="two") == 0
        assert server.api("check_password", user="zed", host="localhost", password="one") != 0
    assert not server.is_running()


@pytest.mark.skipif(not available(), reason="ejabberd is not installed (apt-get install ejabberd)")
def test_a_port_taken_before_the_first_start_is_drawn_again_unless_given(tmp_path):
    """Another server on this machine may take a drawn port while the Erlang VM starts, and ejabberd
    exits (eaddrinuse; seen in a loaded run): the first start draws every port again. Ports the caller
    gave are kept, and the failure is told."""
    server = LocalEjabberd(tmp_path / "e", components={"c.localhost": "secret"})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", server.component_ports["c.localhost"]))
        taken.listen()
        first = (server.ports, dict(server.component_ports))
        with server:
            assert (server.ports, server.component_ports) != first
            assert answers_c2s(server.ports.c2s) and accepts(server.component_ports["c.localhost"])
            assert "eaddrinuse" in server.log_path.read_text()  # the first attempt's
        given = LocalEjabberd(tmp_path / "g", ports=EjabberdPorts(c2s=taken.getsockname()[1], component=free_port(),
                                                                  http=free_port(), s2s=free_port()))
        with pytest.raises(RuntimeError, match="eaddrinuse"):
            given.start()
        assert given.ports.c2s == taken.getsockname()[1] and not given.is_running()
