"""User-facing texts of the support service, in English and Chinese (chosen by xml:lang)."""

from __future__ import annotations

from typing import Any

TEXTS: dict[str, tuple[str, str]] = {
    "greeting": ("Hello! You have reached {queue}. We will connect you with an agent.",
                 "您好！这里是{queue}。我们会尽快为您接通客服人员。"),
    "position": ("You are number {number} in the queue (estimated wait: about {minutes} min).",
                 "您前面还有 {ahead} 位，当前排在第 {number} 位（预计等待约 {minutes} 分钟）。"),
    "routing": ("We are connecting you with an agent now…", "正在为您接通客服人员……"),
    "no_agent": ("No agent is online right now. You stay in the queue and we will connect you as soon "
                 "as one is available.", "目前没有在线的客服人员。您仍在排队中，客服上线后会立即为您接通。"),
    "closed_queue": ("Sorry, {queue} is closed at the moment. Please try again later.",
                     "抱歉，{queue}目前暂停服务，请稍后再试。"),
    "full_queue": ("Sorry, too many customers are waiting for {queue}. Please try again later.",
                   "抱歉，{queue}排队人数已满，请稍后再试。"),
    "left_queue": ("You have left the queue. Write to us again whenever you like.",
                   "您已退出排队。欢迎随时再联系我们。"),
    "agent_joined": ("{agent} is now with you.", "客服 {agent} 已为您服务。"),
    "transferring": ("Please wait, we are transferring you to {target}.", "请稍候，正在为您转接至{target}。"),
    "ticket_closed": ("This conversation is closed. Thank you for contacting us!",
                      "本次会话已结束，感谢您的咨询！"),
    "supervisor_joined": ("Supervisor {name} has joined the conversation.", "主管 {name} 加入了会话。"),
    # To agents and supervisors.
    "offer": ("New customer {customer} in {queue} (ticket {ticket}){first}. Reply “accept” or “reject” "
              "within {timeout} s.",
              "新客户 {customer}，队列 {queue}（工单 {ticket}）{first}。请在 {timeout} 秒内回复 “accept” 接受或 “reject” 拒绝。"),
    "offer_reminder": ("Ticket {ticket} is offered to you: reply “accept” or “reject”.",
                       "工单 {ticket} 正在分配给您：请回复 “accept” 接受或 “reject” 拒绝。"),
    "offer_revoked": ("The offer for ticket {ticket} was withdrawn: {reason}.", "工单 {ticket} 的分配已撤回：{reason}。"),
    "revoke_timeout": ("no answer in time", "超时未回复"),
    "revoke_left": ("the customer left", "客户已离开"),
    "revoke_taken": ("another agent took it", "已由其他客服接手"),
    "revoke_offline": ("you went offline", "您已离线"),
    "revoke_closed": ("the ticket was closed", "工单已关闭"),
    "connected": ("You are now talking with {customer} (ticket {ticket}). Commands: /close, "
                  "/transfer <queue or agent JID>, /note <text>, /help.",
                  "您正在与 {customer} 对话（工单 {ticket}）。命令：/close 结束，/transfer <队列或客服JID> 转接，"
                  "/note <内容> 备注，/help 帮助。"),
    "agent_help": ("Commands: /close ends the conversation; /transfer <queue or agent JID> hands it over "
                   "with its history; /note <text> keeps a private note (never sent to the customer); "
                   "/help shows this.",
                   "命令：/close 结束会话；/transfer <队列或客服JID> 连同记录转接；/note <内容> 记录内部备注"
                   "（不会发给客户）；/help 显示本帮助。"),
    "supervisor_help": ("Supervisor commands here: /watch (receive silent copies), /join (speak in the "
                        "conversation), /leave, /close, /transfer <queue or agent JID>, /note <text>.",
                        "主管命令：/watch 旁听，/join 加入会话，/leave 离开，/close 结束，/transfer <队列或客服JID> 转接，"
                        "/note <内容> 备注。"),
    "noted": ("Note saved (not sent to the customer).", "备注已保存（不会发给客户）。"),
    "closed_for_agent": ("Ticket {ticket} is closed.", "工单 {ticket} 已关闭。"),
    "transferred_away": ("Ticket {ticket} was transferred to {target}.", "工单 {ticket} 已转接至 {target}。"),
    "watching": ("You are watching ticket {ticket} silently.", "您正在旁听工单 {ticket}。"),
    "joined": ("You have joined ticket {ticket}; your messages reach the customer.",
               "您已加入工单 {ticket}，您的消息会发给客户。"),
    "left_watch": ("You no longer follow ticket {ticket}.", "您已不再关注工单 {ticket}。"),
    "customer_left": ("The customer has left (ticket {ticket}).", "客户已离开（工单 {ticket}）。"),
    "queue_help": ("This is the agents' side of {queue}. Offers arrive as messages from the customer's "
                   "conversation address; answer them there with “accept” or “reject”.",
                   "这里是{queue}的客服入口。新客户会以会话地址发来消息，请在该会话中回复 “accept” 或 “reject”。"),
    "unknown_command": ("Unknown command {command}. /help lists the commands.", "未知命令 {command}。输入 /help 查看命令。"),
    "transfer_usage": ("Usage: /transfer <queue or agent JID>", "用法：/transfer <队列或客服JID>"),
    "note_usage": ("Usage: /note <text>", "用法：/note <内容>"),
}

# Speaker labels in transcripts and supervisor copies.
LABELS: dict[str, tuple[str, str]] = {
    "customer": ("customer", "客户"),
    "agent": ("agent", "客服"),
    "supervisor": ("supervisor", "主管"),
    "system": ("system", "系统"),
}


def is_zh(lang: str | None) -> bool:
    return bool(lang) and lang.lower().startswith("zh")


def text(key: str, lang: str | None, **params: Any) -> str:
    en, zh = TEXTS[key]
    return (zh if is_zh(lang) else en).format(**params)


def label(role: str, lang: str | None) -> str:
    en, zh = LABELS.get(role, (role, role))
    return zh if is_zh(lang) else en


def pick_lang(stanza_lang: str | None, default: str) -> str:
    """The language of a conversation: the stanza's xml:lang when we speak it, else the queue's default."""
    if stanza_lang:
        return "zh" if is_zh(stanza_lang) else "en"
    return default


BYE_WORDS = frozenset({"bye", "goodbye", "quit", "exit", "再见", "拜拜", "退出"})
ACCEPT_WORDS = frozenset({"accept", "yes", "接受", "接"})
REJECT_WORDS = frozenset({"reject", "no", "decline", "拒绝"})
