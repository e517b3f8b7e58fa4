"""Message retraction (XEP-0424) and moderation (XEP-0425) that really remove content.

Rooms: an author retracts its own message, a moderator removes anyone's; the
archive replaces the original with a tombstone. The same service
(``hooks.service("recall")``) serves 1:1 conversations of the support queue.
"""

from .plugin import RecallPlugin as PLUGIN

__all__ = ["PLUGIN"]
