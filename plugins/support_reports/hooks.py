"""The public service of the monitor and reports; this plugin fires no events of its own.

``hooks.service("support_reports")`` (:class:`plugins.support_reports.plugin.ReportsFacade`):
``snapshot(queues)`` the live state of queues as this process holds them (monitor.Snapshot),
``await current(queues)`` the same with the queues other processes own read as stored, and
``report(since, until, queue=None, group="queue", period="day")`` report rows
(metrics.report) computed from the support plugin's recorded events.
"""

from __future__ import annotations

SERVICE = "support_reports"
