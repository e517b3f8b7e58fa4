"""A minimal XMPP client over a raw socket: just enough to log in and send stanzas.

No XMPP library and no XML parser: the load generator must cost far less than
what it measures. Login is blocking and sequential (stream header, optional
in-band registration, SASL PLAIN, stream restart, resource binding, initial
presence); afterwards the socket is handed to the load loop, which only scans
bytes. Loopback Prosody without TLS only.
"""

from __future__ import annotations

import base64
import re
import socket
import time
from xml.sax.saxutils import escape, quoteattr

STREAM_HEADER = ("<?xml version='1.0'?><stream:stream to={to} xmlns='jabber:client' "
                 "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
MUC_NS = "http://jabber.org/protocol/muc"
STATUS_SELF = re.compile(rb"<status[^>]*code=['\"]110['\"]")


class XmppError(Exception):
    """The server refused something during set-up."""


class RawClient:
    """One c2s session. Blocking helpers for set-up; `sock` is used raw afterwards."""

    def __init__(self, port: int, user: str, password: str, resource: str = "bench",
                 host: str = "localhost") -> None:
        self.port = port
        self.user = user
        self.password = password
        self.resource = resource
        self.host = host
        self.jid = f"{user}@{host}/{resource}"
        self.sock: socket.socket | None = None
        self.buffer = b""

    # ---- blocking I/O ---------------------------------------------------

    def send(self, data: str | bytes) -> None:
        assert self.sock is not None
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def read_until(self, pattern: bytes | re.Pattern[bytes], timeout: float = 15) -> bytes:
        """Read until `pattern` appears; returns the data up to its end and keeps the rest buffered."""
        assert self.sock is not None
        deadline = time.monotonic() + timeout
        while True:
            if isinstance(pattern, bytes):
                i = self.buffer.find(pattern)
                end = i + len(pattern) if i >= 0 else -1
            else:
                m = pattern.search(self.buffer)
                end = m.end() if m else -1
            if end >= 0:
                head, self.buffer = self.buffer[:end], self.buffer[end:]
                return head
            if b"</stream:stream>" in self.buffer or b"<stream:error" in self.buffer:
                raise XmppError(f"{self.jid}: stream closed: {self.buffer[-400:]!r}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise XmppError(f"{self.jid}: timeout waiting for {pattern!r}; got {self.buffer[-400:]!r}")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise XmppError(f"{self.jid}: connection closed by the server")
            self.buffer += chunk

    def read_until_iq(self, iq_id: str, timeout: float = 15) -> bytes:
        """The stanza answering IQ `iq_id` (result or error), with what came before it."""
        pattern = re.compile(rb"<iq[^>]*id=['\"]" + re.escape(iq_id.encode()) + rb"['\"][^>]*(?:/>|>.*?</iq>)",
                             re.DOTALL)
        return self.read_until(pattern, timeout)

    def drain(self, quiet: float = 0.05) -> bytes:
        """Read whatever arrives until the socket is quiet for `quiet` seconds."""
        assert self.sock is not None
        got = [self.buffer]
        self.buffer = b""
        self.sock.settimeout(quiet)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                got.append(chunk)
        except (socket.timeout, BlockingIOError):
            pass
        return b"".join(got)

    # ---- set-up ---------------------------------------------------------

    def _open_stream(self) -> bytes:
        self.send(STREAM_HEADER.format(to=quoteattr(self.host)))
        return self.read_until(b"</stream:features>")

    def login(self, register: bool = False, presence: bool = True, timeout: float = 15,
              anonymous: bool = False) -> "RawClient":
        """Log in with SASL PLAIN, or with ANONYMOUS on a guest host (a website's visitor: the server
        names the account)."""
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        features = self._open_stream()
        if anonymous:
            self.send(f"<auth xmlns='{SASL_NS}' mechanism='ANONYMOUS'/>")
            return self._authenticated(presence, timeout)
        if register:
            # In-band registration (XEP-0077) on the same stream, before SASL;
            # "conflict" means the account exists already, which is fine.
            self.send("<iq type='set' id='reg'><query xmlns='jabber:iq:register'>"
                      f"<username>{escape(self.user)}</username><password>{escape(self.password)}</password>"
                      "</query></iq>")
            answer = self.read_until_iq("reg", timeout)
            if b"type='error'" in answer or b'type="error"' in answer:
                if b"conflict" not in answer:
                    raise XmppError(f"{self.jid}: registration refused: {answer[-400:]!r}")
        if b"PLAIN" not in features:
            raise XmppError(f"{self.jid}: the server does not offer SASL PLAIN: {features[-400:]!r}")
        token = base64.b64encode(f"\0{self.user}\0{self.password}".encode()).decode()
        self.send(f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'>{token}</auth>")
        return self._authenticated(presence, timeout)

    def _authenticated(self, presence: bool, timeout: float) -> "RawClient":
        answer = self.read_until(re.compile(rb"<success[^>]*/>|<success.*?</success>|</failure>", re.DOTALL),
                                 timeout)
        if b"<failure" in answer:
            raise XmppError(f"{self.jid}: authentication failed: {answer[-300:]!r}")
        self.buffer = b""
        self._open_stream()
        self.send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  f"<resource>{escape(self.resource)}</resource></bind></iq>")
        answer = self.read_until_iq("bind", timeout)
        if b"type='error'" in answer or b'type="error"' in answer:
            raise XmppError(f"{self.jid}: bind failed: {answer[-300:]!r}")
        m = re.search(rb"<jid>([^<]+)</jid>", answer)
        if m:
            self.jid = m.group(1).decode()
        if presence:
            self.send("<presence/>")
        return self

    def join(self, room: str, nick: str, *, wait: bool = True, timeout: float = 30,
             history: int = 0) -> bytes:
        """Join a MUC room (no history by default); with `wait`, returns everything up to our own presence."""
        self.send(f"<presence to={quoteattr(f'{room}/{nick}')}><x xmlns='{MUC_NS}'>"
                  f"<history maxstanzas='{history}'/></x></presence>")
        if not wait:
            return b""
        return self.read_until_self_presence(timeout)

    def read_until_self_presence(self, timeout: float = 30) -> bytes:
        data = self.read_until(STATUS_SELF, timeout)
        if b"type='error'" in data[-2000:] and b"<presence" in data:
            tail = data[data.rfind(b"<presence"):]
            if b"type='error'" in tail:
                raise XmppError(f"{self.jid}: join refused: {tail[:400]!r}")
        self.read_until(b"</presence>", timeout)
        return data

    def iq(self, to: str, iq_type: str, payload: str, iq_id: str, timeout: float = 30) -> bytes:
        """Send an IQ and return everything read up to its answer (raises on an error answer)."""
        self.send(f"<iq type='{iq_type}' to={quoteattr(to)} id={quoteattr(iq_id)}>{payload}</iq>")
        answer = self.read_until_iq(iq_id, timeout)
        tail = answer[answer.rfind(b"<iq"):]
        if b"type='error'" in tail or b'type="error"' in tail:
            raise XmppError(f"{self.jid}: IQ {iq_id} to {to} failed: {tail[:500]!r}")
        return answer

    def make_persistent(self, room: str, iq_id: str = "cfg") -> None:
        """Submit the owner configuration form with persistence on (we just created the room)."""
        form = ("<x xmlns='jabber:x:data' type='submit'>"
                "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
                "<field var='muc#roomconfig_persistentroom'><value>1</value></field>"
                "<field var='muc#roomconfig_publicroom'><value>1</value></field>"
                "</x>")
        self.iq(room, "set", f"<query xmlns='{MUC_NS}#owner'>{form}</query>", iq_id)

    def leave(self, room: str, nick: str) -> None:
        self.send(f"<presence type='unavailable' to={quoteattr(f'{room}/{nick}')}/>")

    def close(self) -> None:
        if self.sock is None:
            return
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(1)
            self.sock.sendall(b"</stream:stream>")
        except OSError:
            pass
        try:
            self.sock.close()
        finally:
            self.sock = None
