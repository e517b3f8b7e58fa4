"""User-facing texts of the support service, in English and Chinese (chosen by xml:lang)."""

from __future__ import annotations

from component.texts import Texts, is_zh, lang_code

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
    "customer_unreachable": ("Messages to {customer} come back undelivered (their server reports them "
                             "unreachable or gone). Close the conversation with /close when you are done.",
                             "发给 {customer} 的消息被退回（对方服务器报告无法送达或账号已不存在）。"
                             "处理完毕后请用 /close 结束会话。"),
    "connected": ("You are now talking with {customer} (ticket {ticket}). Commands: /close, "
                  "/transfer <queue or agent JID>, /note <text>, /help.",
                  "您正在与 {customer} 对话（工单 {ticket}）。命令：/close 结束，/transfer <队列或客服JID> 转接，"
                  "/note <内容> 备注，/help 帮助。"),
    "agent_help": ("Commands: /close ends the conversation; /transfer <queue or agent JID> hands it over "
                   "with its history; /note <text> keeps a private note (never sent to the customer); "
                   "/pending waits for the customer's reply (their answer brings the ticket back); "
                   "/tag <tags> (+tag, -tag) and /priority <low|normal|high|urgent|number> file the ticket; "
                   "/c <shortcut> sends a canned reply (/c alone lists them); /tickets [status #tag text] "
                   "searches tickets; /help shows this.",
                   "命令：/close 结束会话；/transfer <队列或客服JID> 连同记录转接；/note <内容> 记录内部备注"
                   "（不会发给客户）；/pending 等待客户回复（客户回复后工单重新排队）；/tag <标签>（+标签、-标签）"
                   "与 /priority <low|normal|high|urgent|数字> 整理工单；/c <快捷词> 发送常用回复（只输入 /c 列出全部）；"
                   "/tickets [状态 #标签 文字] 查找工单；/help 显示本帮助。"),
    "supervisor_help": ("Supervisor commands here: /watch (receive silent copies), /join (speak in the "
                        "conversation), /leave, /whisper <text> (to the agent only), /close, "
                        "/transfer <queue or agent JID>, /note <text>.",
                        "主管命令：/watch 旁听，/join 加入会话，/leave 离开，/whisper <内容> 只提醒客服，/close 结束，"
                        "/transfer <队列或客服JID> 转接，/note <内容> 备注。"),
    "noted": ("Note saved (not sent to the customer).", "备注已保存（不会发给客户）。"),
    "closed_for_agent": ("Ticket {ticket} is closed.", "工单 {ticket} 已关闭。"),
    "transferred_away": ("Ticket {ticket} was transferred to {target}.", "工单 {ticket} 已转接至 {target}。"),
    "watching": ("You are watching ticket {ticket} silently.", "您正在旁听工单 {ticket}。"),
    "joined": ("You have joined ticket {ticket}; your messages reach the customer.",
               "您已加入工单 {ticket}，您的消息会发给客户。"),
    "left_watch": ("You no longer follow ticket {ticket}.", "您已不再关注工单 {ticket}。"),
    "customer_left": ("The customer has left (ticket {ticket}).", "客户已离开（工单 {ticket}）。"),
    "queue_help": ("This is the agents' side of {queue}. Offers arrive as messages from the customer's "
                   "conversation address; answer them there with “accept” or “reject”. Here: /tickets [status "
                   "#tag text] lists tickets, /take <ticket> takes a waiting one (a message left out of hours, "
                   "a pending ticket).",
                   "这里是{queue}的客服入口。新客户会以会话地址发来消息，请在该会话中回复 “accept” 或 “reject”。"
                   "在此可用：/tickets [状态 #标签 文字] 列出工单，/take <工单号> 接手等待中的工单（非工作时间留言、"
                   "待客户回复的工单）。"),
    "unknown_command": ("Unknown command {command}. /help lists the commands.", "未知命令 {command}。输入 /help 查看命令。"),
    "transfer_usage": ("Usage: /transfer <queue or agent JID>", "用法：/transfer <队列或客服JID>"),
    "note_usage": ("Usage: /note <text>", "用法：/note <内容>"),
    "command_refused": ("⚠ You may not use {command} here.", "⚠ 您不能在这里使用 {command}。"),
    "whispered": ("[whisper from {name}] {body}", "[{name} 悄悄提醒] {body}"),
    # Tickets (customers).
    "pending_customer": ("Your agent is waiting for your reply. Write here whenever you are ready and we "
                         "will continue.", "客服正在等待您的回复。您准备好后直接在这里回复，我们会继续为您服务。"),
    "requeued": ("Thank you! We are connecting you with an agent again.", "谢谢！正在为您重新接通客服人员。"),
    "reopened": ("Welcome back! We reopened your ticket {ticket} and are connecting you with an agent.",
                 "欢迎回来！我们已重新打开您的工单 {ticket}，正在为您接通客服人员。"),
    "welcome": ("You are welcome! Write to us whenever you need help.", "不客气！有需要随时联系我们。"),
    # Pre-chat form.
    "prechat_intro": ("Before we connect you with an agent, please answer a few questions.",
                      "为您接通客服人员之前，请先回答几个问题。"),
    "prechat_required": ("An answer is needed here.", "此项必须填写。"),
    "prechat_bad_email": ("That does not look like an email address.", "这似乎不是有效的电子邮箱地址。"),
    "prechat_bad_phone": ("That does not look like a phone number.", "这似乎不是有效的电话号码。"),
    # Business hours.
    "out_of_hours": ("Sorry, {queue} is closed now. Our hours: {hours}.", "抱歉，{queue}现在不在服务时间。服务时间：{hours}。"),
    "closed_for_now": ("Sorry, {queue} is closed for the moment.", "抱歉，{queue}暂时关闭。"),
    "opens_at": ("We open again on {when}.", "下次开始服务：{when}。"),
    "leave_message": ("Your message is saved (ticket {ticket}); an agent will answer when we are open. You may "
                      "add details here.", "您的留言已保存（工单 {ticket}），我们开始服务后会由客服人员回复。您可以继续在这里补充。"),
    "come_back": ("Please write to us again then.", "请届时再联系我们。"),
    # Ratings.
    "rating_question": ("How would you rate our help? Reply with a number from 1 (poor) to 5 (excellent), "
                        "optionally followed by a comment.",
                        "请为本次服务评分：回复 1（很差）到 5（非常满意）的数字，也可以在数字后附上您的意见。"),
    "rating_thanks": ("Thank you for your feedback!", "感谢您的评价！"),
    "rating_again": ("Thank you, your rating is already recorded.", "谢谢，您的评分已经记录。"),
    "rating_invalid": ("Please choose a rating from 1 to 5.", "请选择 1 到 5 之间的评分。"),
    # Tickets (agents).
    "intro_reopened": ("The customer reopened this ticket ({count}×).", "客户重新打开了此工单（第 {count} 次）。"),
    "intro_tags": ("Tags: {tags} · priority {priority}", "标签：{tags} · 优先级 {priority}"),
    "pending_agent": ("Ticket {ticket} is pending: it comes back when the customer answers (to you first, when "
                      "you are available).", "工单 {ticket} 已转为待客户回复：客户回复后会重新分配（您有空时优先分配给您）。"),
    "tags_now": ("Ticket {ticket}: tags {tags}", "工单 {ticket} 的标签：{tags}"),
    "tag_invalid": ("Not a tag: {words} (letters, digits, . _ - up to 32).", "无效的标签：{words}（字母、数字、. _ -，最长 32）。"),
    "priority_now": ("Ticket {ticket}: priority {priority}", "工单 {ticket} 的优先级：{priority}"),
    "priority_usage": ("Usage: /priority <low|normal|high|urgent|number from -100 to 100>",
                       "用法：/priority <low|normal|high|urgent|-100 到 100 的数字>"),
    "canned_list": ("Canned replies: {shortcuts}. Send one with /c <shortcut>.", "常用回复：{shortcuts}。用 /c <快捷词> 发送。"),
    "canned_none": ("This queue has no canned replies yet.", "此队列还没有常用回复。"),
    "canned_unknown": ("No canned reply “{shortcut}”. /c lists them.", "没有快捷词为“{shortcut}”的常用回复。输入 /c 查看全部。"),
    "tickets_none": ("No ticket matches.", "没有符合条件的工单。"),
    "tickets_found": ("Tickets ({count}):", "工单（{count} 个）："),
    "take_usage": ("Usage: /take <ticket>", "用法：/take <工单号>"),
    "taken": ("You now hold ticket {ticket}; write to {jid}.", "您已接手工单 {ticket}，会话地址 {jid}。"),
}

# Speaker labels in transcripts and supervisor copies.
LABELS: dict[str, tuple[str, str]] = {
    "customer": ("customer", "客户"),
    "agent": ("agent", "客服"),
    "supervisor": ("supervisor", "主管"),
    "system": ("system", "系统"),
}


text = Texts(TEXTS)


def label(role: str, lang: str | None) -> str:
    en, zh = LABELS.get(role, (role, role))
    return zh if is_zh(lang) else en


def pick_lang(stanza_lang: str | None, default: str) -> str:
    """The language of a conversation: the stanza's xml:lang when we speak it, else the queue's default."""
    return lang_code(stanza_lang, default)


BYE_WORDS = frozenset({"bye", "goodbye", "quit", "exit", "再见", "拜拜", "退出"})
ACCEPT_WORDS = frozenset({"accept", "yes", "接受", "接"})
REJECT_WORDS = frozenset({"reject", "no", "decline", "拒绝"})
THANKS_WORDS = frozenset({"thanks", "thank you", "thanks a lot", "thank you very much", "thx", "ty", "ok thanks",
                          "谢谢", "多谢", "感谢", "谢谢你", "谢谢您", "好的谢谢", "好的，谢谢"})


def is_thanks(body: str) -> bool:
    return body.strip().strip("!.。！~ ").lower() in THANKS_WORDS
