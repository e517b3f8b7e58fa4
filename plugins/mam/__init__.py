"""XEP-0313 message archive: stores room (and other component JIDs') messages, answers MAM queries.

The public service is ``hooks.service("archive")`` (:mod:`plugins.mam.service`),
its contract :mod:`plugins.mam.hooks`.
"""

from .plugin import MamPlugin as PLUGIN

__all__ = ["PLUGIN"]
