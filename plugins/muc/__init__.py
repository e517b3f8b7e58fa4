"""Multi-user chat (XEP-0045): rooms at ``<room>@<service domain>``.

Split by feature like Prosody's ``plugins/muc/*.lib.lua``: ``room.py`` holds a
room's state and the role/affiliation rules, ``features/`` one capability per
module, ``plugin.py`` the wiring, ``hooks.py`` the events and the public
service other plugins (archive, recall, admin) use. MUC knows none of them.
"""

from .plugin import MucPlugin as PLUGIN

__all__ = ["PLUGIN"]
