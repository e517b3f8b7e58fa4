"""Administration of every service by XEP-0050 ad-hoc commands (and ``switchboard rooms …`` from a shell).

Service commands (statistics, configuration reload, log level) and room
commands (list, info, create, destroy, affiliations, announcements, archive
purge/export, statistics) built only on MUC's and the archive's public
services. Rights come from ``component.adhoc``: global admins, plus scopes
granted through the ``admin.rights`` event (room owners, queue supervisors).
"""

from .plugin import AdminPlugin as PLUGIN

__all__ = ["PLUGIN"]
