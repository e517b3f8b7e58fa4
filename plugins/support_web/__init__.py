"""The web channel's server side: conversation tokens and page context for the chat widget.

Website visitors log in anonymously, so their JID changes on every page load. A visitor asks the
queue for a conversation token once its ticket exists, keeps it in the browser, and presents it
from the next anonymous login to continue the same conversation. The widget also tells the queue
where the visitor is (page, language) and who they are when the site signs it (HMAC); the agent
sees it, marked verified or not. Protocol: ``schemas/support-protocol.md`` §11, ``schemas/web.xsd``.
"""

from .plugin import SupportWebPlugin as PLUGIN

__all__ = ["PLUGIN"]
