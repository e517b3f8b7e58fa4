"""Texts of the monitor and the reports in English and Chinese (by xml:lang or ``--lang``)."""

from __future__ import annotations

from typing import Any

from component.texts import Texts, is_zh

from .metrics import COLUMN_KINDS, COLUMNS

TEXTS: dict[str, tuple[str, str]] = {
    # Live monitor.
    "monitor_title": ("Live monitor", "实时监控"),
    "monitor_header": ("Live monitor · {time}", "实时监控 · {time}"),
    "queue_line": ("{title} ({queue}): {status} · {waiting} waiting{oldest} · {bot} with the bot · "
                   "{active} in conversation · agents {available}/{agents} available, load {load}/{capacity}",
                   "{title}（{queue}）：{status} · 排队 {waiting} 人{oldest} · 机器人接待 {bot} 人 · "
                   "会话中 {active} 个 · 可接待客服 {available}/{agents}，负载 {load}/{capacity}"),
    "oldest": (" (longest {wait})", "（最长 {wait}）"),
    "queue_later": (" · {pending} waiting for the customer's reply · {messages} messages left out of hours",
                    " · 等待客户回复 {pending} 个 · 非工作时间留言 {messages} 条"),
    "open": ("open", "服务中"),
    "closed": ("closed", "暂停服务"),
    "waiting_header": ("Waiting customers:", "排队客户："),
    "waiting_line": ("  {position}. {customer} · {wait}{offered} · ticket {ticket}",
                     "  {position}. {customer} · 已等 {wait}{offered} · 工单 {ticket}"),
    "offered_to": (" · offered to {agents}", " · 已分配给 {agents}"),
    "agents_header": ("Agents:", "客服："),
    "agent_line": ("  {agent} · {status} · {load}/{capacity}{tickets}",
                   "  {agent} · {status} · {load}/{capacity}{tickets}"),
    "conversations_header": ("Conversations:", "进行中的会话："),
    "conversation_line": ("  {ticket} · {customer} ↔ {agent} · {duration}{first}",
                          "  {ticket} · {customer} ↔ {agent} · 已持续 {duration}{first}"),
    "first_reply": (" · first reply after {wait}", " · 首次回复用时 {wait}"),
    "no_reply_yet": (" · no reply yet", " · 尚未回复"),
    "none": ("  (none)", "  （无）"),
    "more": ("  … and {count} more", "  ……另有 {count} 项"),
    "monitor_usage": ("Supervisor commands here: /monitor [queue] shows the live state; /report [day|week] "
                      "today's or this week's figures.",
                      "主管命令：/monitor [队列] 查看实时状态；/report [day|week] 查看今日或本周数据。"),
    "not_supervisor": ("Only supervisors of this queue see its monitor and reports.",
                       "只有该队列的主管可以查看监控和报表。"),
    "unknown_queue": ("There is no queue {queue} that you supervise.", "您没有名为 {queue} 的可管理队列。"),
    # Agent status.
    "status_available": ("available", "空闲"),
    "status_away": ("away", "离开"),
    "status_dnd": ("urgent only", "仅紧急"),
    "status_xa": ("not routing", "暂停接单"),
    "status_offline": ("offline", "离线"),
    # Monitor tables.
    "view": ("View", "视图"),
    "view_queues": ("Queues", "队列概况"),
    "view_waiting": ("Waiting customers", "排队客户"),
    "view_agents": ("Agents", "客服状态"),
    "view_conversations": ("Active conversations", "进行中的会话"),
    "all_queues": ("All my queues", "我管理的全部队列"),
    "col_queue": ("Queue", "队列"),
    "col_title": ("Name", "名称"),
    "col_status": ("Status", "状态"),
    "col_waiting": ("Waiting", "排队"),
    "col_oldest": ("Longest wait", "最长等待"),
    "col_bot": ("With bot", "机器人接待"),
    "col_active": ("In conversation", "会话中"),
    "col_pending": ("Waiting for the customer", "等待客户回复"),
    "col_messages": ("Messages left", "留言"),
    "col_agents": ("Agents available", "可接待客服"),
    "col_load": ("Load", "负载"),
    "col_position": ("#", "序号"),
    "col_customer": ("Customer", "客户"),
    "col_wait": ("Waiting for", "已等待"),
    "col_state": ("State", "状态"),
    "col_priority": ("Priority", "优先级"),
    "col_offered": ("Offered to", "已分配给"),
    "col_ticket": ("Ticket", "工单"),
    "col_agent": ("Agent", "客服"),
    "col_tickets": ("Conversations", "会话"),
    "col_duration": ("Duration", "持续时间"),
    "col_first": ("First reply after", "首次回复用时"),
    "state_queued": ("queued", "排队中"),
    "state_offered": ("being offered", "分配中"),
    # Reports.
    "report_title": ("Support report", "客服报表"),
    "report_instructions": ("Dates are YYYY-MM-DD (the end date is included) in the time zone {tz}.",
                            "日期格式为 YYYY-MM-DD（包含结束日期），时区 {tz}。"),
    "since": ("From", "开始日期"),
    "until": ("To (included)", "结束日期（含）"),
    "group": ("Rows per", "分组"),
    "group_queue": ("Queue", "按队列"),
    "group_agent": ("Agent", "按客服"),
    "group_total": ("All queues together", "全部合计"),
    "period": ("Period", "周期"),
    "period_day": ("Day", "按天"),
    "period_week": ("Week", "按周"),
    "period_all": ("Whole range", "整个时段"),
    "bad_date": ("{field}: write a date as YYYY-MM-DD.", "{field}：日期格式应为 YYYY-MM-DD。"),
    "bad_range": ("The end date must not be before the start date (at most {days} days).",
                  "结束日期不能早于开始日期（最多 {days} 天）。"),
    "no_data": ("No conversations in this range.", "该时段没有会话。"),
    "report_chat": ("{title}, {range}: {conversations} conversations · bot-resolved {bot_share} · hand-off "
                    "{handoff} · average wait {wait_avg} (90%: {wait_p90}) · first response {first} · handle "
                    "time {handle} · abandoned {abandon} · transfers {transfers} · CSAT {csat} ({ratings} ratings)",
                    "{title}，{range}：会话 {conversations} 个 · 机器人解决率 {bot_share} · 转人工率 {handoff} · "
                    "平均等待 {wait_avg}（90%：{wait_p90}）· 首次响应 {first} · 处理时长 {handle} · 放弃率 "
                    "{abandon} · 转接 {transfers} 次 · 满意度 {csat}（{ratings} 条评价）"),
    "today": ("today", "今日"),
    "this_week": ("this week", "本周"),
    # The HTML report.
    "generated": ("Generated {time}", "生成于 {time}"),
    "range": ("{since} – {until} ({tz})", "{since} 至 {until}（{tz}）"),
    "scope_all": ("All queues", "全部队列"),
    "scope_queue": ("Queue {queue}", "队列 {queue}"),
    "chart_volume": ("Conversations per day", "每日会话量"),
    "chart_hourly": ("Conversations by hour of day", "各时段会话量"),
    "chart_wait": ("Wait over time", "等待时间趋势"),
    "chart_wait_hourly": ("Wait by hour of day", "各时段等待时间"),
    "chart_csat": ("Customer satisfaction (CSAT)", "客户满意度"),
    "chart_agents": ("Agents: conversations", "客服接待量"),
    "chart_handle": ("Agents: average handle time", "客服平均处理时长"),
    "series_answered": ("Answered by an agent", "人工接待"),
    "series_bot": ("Resolved by the bot", "机器人解决"),
    "series_abandoned": ("Abandoned", "放弃排队"),
    "series_other": ("Other", "其他"),
    "series_wait_avg": ("Average wait", "平均等待"),
    "series_wait_p90": ("90th percentile", "90%等待"),
    "series_ratings": ("Ratings", "评价数"),
    "no_ratings": ("No ratings yet", "暂无评价"),
    "table_queues": ("By queue", "按队列"),
    "table_agents": ("By agent", "按客服"),
    "table_days": ("By day", "按天"),
    "kpi_conversations": ("Conversations", "会话数"),
    "notes": ("Wait: queue to first agent; first response: queue to the agent's first message; percentile: "
              "nearest rank. A conversation counts in the queue and on the day it started.",
              "等待：进入排队到客服接入；首次响应：进入排队到客服首条消息；百分位按最近秩计算。会话计入其开始时的队列和日期。"),
}

LABELS_EN = {key: en for key, en, _zh, _kind in COLUMNS}
LABELS_ZH = {key: zh for key, _en, zh, _kind in COLUMNS}


text = Texts(TEXTS)


def column_label(key: str, lang: str | None) -> str:
    return (LABELS_ZH if is_zh(lang) else LABELS_EN).get(key, key)


def duration(seconds: float | None, lang: str | None) -> str:
    """45 s, 3 min 05 s, 2 h 10 min (zh: 45秒, 3分05秒, 2小时10分); "—" for no value."""
    if seconds is None:
        return "—"
    total = int(round(max(0.0, seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    zh = is_zh(lang)
    if hours:
        return f"{hours}小时{minutes:02d}分" if zh else f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes}分{secs:02d}秒" if zh else f"{minutes} min {secs:02d} s"
    return f"{secs}秒" if zh else f"{secs} s"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def cell(key: str, value: Any, lang: str | None) -> str:
    """A report figure as people read it."""
    kind = COLUMN_KINDS.get(key, "text")
    if kind == "seconds":
        return duration(value, lang)
    if kind == "rate":
        return percent(value)
    if kind == "score":
        return score(value)
    return "" if value is None else str(value)
