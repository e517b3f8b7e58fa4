-- Example Prosody 0.12 configuration for a production Switchboard deployment.
--
-- Documentation only: nothing reads this file. Copy the parts you need into
-- /etc/prosody/prosody.cfg.lua (or a file under /etc/prosody/conf.d/), and
-- replace the example domains and secrets.
--
-- Layout assumed here
--   example.com          user accounts (the VirtualHost)
--   rooms.example.com    Switchboard group chat, an external component
--   support.example.com  Switchboard customer-service desk, an external component
--   guest.example.com    anonymous website visitors (the chat widget), who may
--                        write to support.example.com and nothing else
--   chat.example.com     the public web name, served by a reverse proxy that
--                        terminates TLS and forwards to Prosody's http port
--
-- This file holds component secrets: keep it owned by root, group prosody,
-- mode 0640 (chown root:prosody FILE && chmod 0640 FILE), so that the server
-- can read it and ordinary users cannot.

---------- Process ----------

-- Debian's service unit runs Prosody as the "prosody" user; never set
-- run_as_root in production.
pidfile = "/run/prosody/prosody.pid"

log = {
	info = "/var/log/prosody/prosody.log";
	error = "/var/log/prosody/prosody.err";
	{ levels = { "error" }; to = "syslog"; };
}

admins = { "admin@example.com" }

-- Generational garbage collection (Lua 5.4), not Prosody's default incremental
-- cycle after 5 % growth: a third to a half less CPU in a support storm, and
-- none of the incremental sweep's pauses of tens of milliseconds, for more
-- memory. Needs Prosody on Lua 5.4 (Debian 12's); on older Lua, Prosody
-- reports the setting and keeps its own. Why and how much: docs/servers.md.
gc = { mode = "generational"; minor_threshold = 5; major_threshold = 200 }

---------- Network ----------

-- Disabling Nagle trims 20-40 ms off each small stanza (Switchboard relays
-- many of them); it needs the default epoll backend.
network_backend = "epoll"
network_settings = {
	nagle = false;
}

-- Clients (5222, and 5223 for direct TLS) and servers (5269) are public.
c2s_ports = { 5222 }
c2s_direct_tls_ports = { 5223 }
s2s_ports = { 5269 }

-- The component port must never be reachable from the internet: the
-- XEP-0114 handshake is a SHA-1 of the secret over a plain TCP stream.
-- Run Switchboard on the same machine (or on a private network and list
-- that address here instead).
component_ports = { 5347 }
component_interfaces = { "127.0.0.1", "::1" }

-- HTTP (BOSH, WebSocket, file serving) listens on loopback only; a reverse
-- proxy (nginx, Caddy, ...) terminates TLS for chat.example.com and forwards
-- /xmpp-websocket (with the Upgrade/Connection headers), /http-bind and /
-- to it.
http_ports = { 5280 }
http_interfaces = { "127.0.0.1", "::1" }
https_ports = { }
http_external_url = "https://chat.example.com/"
-- Lets Prosody log and rate-limit the real client address from
-- X-Forwarded-For instead of the proxy's.
trusted_proxies = { "127.0.0.1", "::1" }
-- The proxy already encrypts the browser's connection, so BOSH and WebSocket
-- sessions count as secure (otherwise c2s_require_encryption refuses them).
consider_websocket_secure = true
consider_bosh_secure = true

---------- Encryption and authentication ----------

-- Certificates for example.com, rooms.example.com, support.example.com (and
-- chat.example.com if Prosody serves HTTPS itself). With Let's Encrypt:
--   prosodyctl --root cert import /etc/letsencrypt/live
-- Component domains need certificates too: Prosody, not Switchboard, speaks
-- s2s for them.
certificates = "certs"

c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = true
authentication = "internal_hashed"

-- Remote servers find the component domains through DNS: give
-- rooms.example.com and support.example.com an _xmpp-server._tcp SRV record
-- (or an A/AAAA record) pointing at this server.

---------- Storage ----------

-- The internal file store is fine for small servers; SQL scales further. Past ~1,000 users
-- receiving messages at once (a support desk's storm of customers), the internal store's
-- archive slows the whole server: every message archived for a user reloads or rewrites
-- per-user files (docs/servers.md). Put archives on SQL there, or at least raise
-- storage_archive_item_limit_cache_size and archive_cleanup_date_cache_size above that number.
-- storage = "sql"
-- sql = { driver = "PostgreSQL", database = "prosody", username = "prosody", password = "...", host = "localhost" }

archive_expires_after = "1y"

---------- Modules ----------

modules_enabled = {
	-- Core
	"roster"; "saslauth"; "tls"; "dialback"; "disco"; "posix";
	-- Features clients expect
	"carbons"; "pep"; "private"; "blocklist"; "vcard4"; "vcard_legacy";
	"bookmarks"; "mam"; "smacks"; "csi_simple";
	"ping"; "time"; "uptime"; "version"; "register";
	-- Administration
	"admin_adhoc"; "admin_shell";
	-- Web clients (behind the reverse proxy above)
	"http"; "bosh"; "websocket";
	-- Optional: serve a web client (e.g. Converse.js) from the same origin.
	-- "http_files";
	-- Bandwidth limits for clients and servers. External components are not
	-- affected by them.
	"limits";
}

-- Accounts are created by the operator (prosodyctl adduser) or by invitation.
allow_registration = false

limits = {
	c2s = { rate = "10kb/s"; burst = "2s"; };
	s2sin = { rate = "100kb/s"; burst = "2s"; };
}

-- With "http_files" enabled: the web client's files, served at
-- https://chat.example.com/ through the proxy.
-- http_files_dir = "/var/www/chat"

---------- Hosts ----------

VirtualHost "example.com"

-- Website visitors: the chat widget logs in anonymously (SASL ANONYMOUS) over
-- WebSocket. mod_switchboard_guest (Switchboard's prosody-config/modules:
-- copy it into a folder named in plugin_paths, e.g.
-- plugin_paths = { "/usr/local/lib/prosody/modules" }) keeps guests to the
-- support domain (no local users, no other guests, no rooms, no other server)
-- and limits how fast each may send. The widget's snippet names the queue
-- (help@support.example.com) and wss://chat.example.com/xmpp-websocket; its
-- stream goes to guest.example.com. Give it no storage and no archive.
VirtualHost "guest.example.com"
	authentication = "anonymous"
	allow_anonymous_s2s = false
	switchboard_guest_allowed = { "support.example.com" }
	switchboard_guest_rate = 5    -- stanzas per second per visitor, sustained
	switchboard_guest_burst = 20  -- and at once
	modules_enabled = { "saslauth"; "disco"; "ping"; "http"; "websocket"; "switchboard_guest"; }
	modules_disabled = { "mam"; "offline"; "carbons"; "pep"; "register"; "vcard4"; "vcard_legacy";
		"private"; "bookmarks"; "blocklist" }

-- Switchboard connects to these with the same domain and secret in its own
-- configuration. Use long random secrets (e.g. `openssl rand -hex 32`), one
-- per component; keep this file mode 0640 as noted at the top.
Component "rooms.example.com"
	component_secret = "change-me-rooms-secret"

Component "support.example.com"
	component_secret = "change-me-support-secret"
