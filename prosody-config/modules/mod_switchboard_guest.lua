-- Guests stay guests: anonymous visitors of a website's chat widget log in on a guest host
-- (authentication = "anonymous") and may reach the support desk, their own account and the
-- guest host itself -- nothing else: no local users, no other guests, no rooms, no other server.
-- Every stanza a guest sends also passes a per-session rate limit.
--
-- Load it on the guest VirtualHost only:
--   modules_enabled = { "switchboard_guest"; ... }
--   switchboard_guest_allowed = { "support.example.com" }   -- domains guests may write to
--   switchboard_guest_rate = 5                               -- stanzas per second, sustained
--   switchboard_guest_burst = 20                             -- stanzas allowed at once

local jid_split = require "util.jid".split;
local st = require "util.stanza";
local new_throttle = require "util.throttle".create;

local allowed = module:get_option_set("switchboard_guest_allowed", {});
local rate = module:get_option_number("switchboard_guest_rate", 5);
local burst = module:get_option_number("switchboard_guest_burst", 20);

if allowed:empty() then
	module:log("warn", "switchboard_guest_allowed is empty: guests can reach no support domain");
end

-- Answer with an error unless the stanza is itself an answer (errors must not bounce).
local function refuse(origin, stanza, kind, condition, text)
	local t = stanza.attr.type;
	if t ~= "error" and t ~= "result" then
		origin.send(st.error_reply(stanza, kind, condition, text));
	end
	return true;
end

local function destination_allowed(origin, to)
	if to == nil then return true; end -- the account itself (presence broadcast, roster, own archive)
	local node, host = jid_split(to);
	if host == nil then return false; end
	if allowed:contains(host) then return true; end
	-- The guest host itself (disco, ping) and the guest's own account; never another guest.
	return host == origin.host and (node == nil or node == origin.username);
end

module:hook("pre-stanza", function (event)
	local origin, stanza = event.origin, event.stanza;
	if origin.type ~= "c2s" then return; end
	local throttle = origin.switchboard_guest_throttle;
	if throttle == nil then
		throttle = new_throttle(burst, burst / rate);
		origin.switchboard_guest_throttle = throttle;
	end
	if not throttle:poll(1) then
		module:log("debug", "guest %s over its rate limit", origin.full_jid or "?");
		return refuse(origin, stanza, "wait", "policy-violation", "Too many messages: please slow down.");
	end
	if not destination_allowed(origin, stanza.attr.to) then
		module:log("debug", "guest %s may not write to %s", origin.full_jid or "?", stanza.attr.to);
		return refuse(origin, stanza, "cancel", "not-allowed", "Guests may write to the support desk only.");
	end
end, 1000);
