"""Every XML namespace the project speaks, declared once.

Plugins import these instead of spelling the URIs again, so a typo cannot make
one plugin miss what another emits. Ours (``urn:switchboard:…``) are specified
in ``schemas/``.
"""

from __future__ import annotations

# -- streams and core (RFC 6120, XEP-0114) -----------------------------------
CLIENT = "jabber:client"
SERVER = "jabber:server"
COMPONENT = "jabber:component:accept"
XML = "http://www.w3.org/XML/1998/namespace"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"

# -- service plumbing --------------------------------------------------------
DISCO_INFO = "http://jabber.org/protocol/disco#info"          # XEP-0030
CAPS = "http://jabber.org/protocol/caps"                        # XEP-0115
DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
COMMANDS = "http://jabber.org/protocol/commands"              # XEP-0050
DATA = "jabber:x:data"                                        # XEP-0004
DATA_VALIDATE = "http://jabber.org/protocol/xdata-validate"   # XEP-0122
VERSION = "jabber:iq:version"                                 # XEP-0092
PING = "urn:xmpp:ping"                                        # XEP-0199
RSM = "http://jabber.org/protocol/rsm"                        # XEP-0059
PUBSUB = "http://jabber.org/protocol/pubsub"                  # XEP-0060
PUBSUB_EVENT = PUBSUB + "#event"
PUBSUB_ERRORS = PUBSUB + "#errors"

# -- message metadata --------------------------------------------------------
DELAY = "urn:xmpp:delay"                                      # XEP-0203
SID = "urn:xmpp:sid:0"                                        # XEP-0359
HINTS = "urn:xmpp:hints"                                      # XEP-0334
FORWARD = "urn:xmpp:forward:0"                                # XEP-0297
FASTEN = "urn:xmpp:fasten:0"                                  # XEP-0422
FALLBACK = "urn:xmpp:fallback:0"                              # XEP-0428
OCCUPANT_ID = "urn:xmpp:occupant-id:0"                        # XEP-0421
CHATSTATES = "http://jabber.org/protocol/chatstates"          # XEP-0085
RECEIPTS = "urn:xmpp:receipts"                                # XEP-0184
CHAT_MARKERS = "urn:xmpp:chat-markers:0"                      # XEP-0333
CORRECT = "urn:xmpp:message-correct:0"                        # XEP-0308
REACTIONS = "urn:xmpp:reactions:0"                            # XEP-0444
OOB = "jabber:x:oob"                                          # XEP-0066
SIMS = "urn:xmpp:sims:1"                                      # XEP-0385
SFS = "urn:xmpp:sfs:0"                                        # XEP-0447
ENCRYPTED = "jabber:x:encrypted"                              # XEP-0027
OPENPGP = "urn:xmpp:openpgp:0"                                # XEP-0373
OMEMO = "urn:xmpp:omemo:2"                                    # XEP-0384

# -- group chat, archive, recall ---------------------------------------------
MUC = "http://jabber.org/protocol/muc"                        # XEP-0045
MUC_USER = MUC + "#user"
MUC_ADMIN = MUC + "#admin"
MUC_OWNER = MUC + "#owner"
MUC_ROOMCONFIG = MUC + "#roomconfig"
MUC_ROOMINFO = MUC + "#roominfo"
MUC_REQUEST = MUC + "#request"
MUC_STABLE_ID = MUC + "#stable_id"
MUC_SELF_PING = MUC + "#self-ping-optimization"               # XEP-0410
CONFERENCE = "jabber:x:conference"                            # XEP-0249
MAM = "urn:xmpp:mam:2"                                        # XEP-0313
MAM_EXTENDED = MAM + "#extended"
PIE_MAM = "urn:xmpp:pie:0#mam"                                # XEP-0227 archive export
RETRACT = "urn:xmpp:message-retract:1"                        # XEP-0424
RETRACT_0 = "urn:xmpp:message-retract:0"
MODERATE = "urn:xmpp:message-moderate:1"                      # XEP-0425
MODERATE_0 = "urn:xmpp:message-moderate:0"

# -- support -----------------------------------------------------------------
WORKGROUP = "http://jabber.org/protocol/workgroup"            # XEP-0142

# -- ours (schemas/) ---------------------------------------------------------
SUPPORT = "urn:switchboard:support:0"
WEB = "urn:switchboard:web:0"                                 # the web channel (support_web)
ECHO = "urn:switchboard:echo:0"
MUC_PEER = "urn:switchboard:muc:peer:0"                       # between processes of one rooms domain
MAM_RETENTION_FIELD = "urn:switchboard:mam:0#retention"
RECALL_WINDOW_FIELD = "urn:switchboard:recall:0#window"
