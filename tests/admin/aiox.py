"""The shared aioxmpp client, as the admin tests import it."""

from ..aioxmpp_client import client  # noqa: F401
