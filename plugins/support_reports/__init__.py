"""Live monitor and reports of the support queue.

Reads only the support plugin's public service: its live state for the
monitor, its recorded ticket events for reports (replay.py, metrics.py). Supervisors see
their queues, global admins all: ad-hoc commands with data-form tables, chat
commands (``/monitor``, ``/report``) at a queue JID or the service domain,
and ``switchboard report`` for CSV, JSON and a self-contained HTML page.
"""

from .plugin import ReportsPlugin as PLUGIN

__all__ = ["PLUGIN"]
