"""A tiny plugin that proves the plugin mechanism end to end (used by the tests and the demo).

It answers chat messages to ``echo@<domain>`` with the same body, counts them per
sender in its own table, lets other plugins veto a reply through the
``echo.before_reply`` hook, and offers an ad-hoc command listing the counts.
"""

from .plugin import EchoPlugin as PLUGIN

__all__ = ["PLUGIN"]
