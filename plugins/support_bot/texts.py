"""What the bot says to customers (and writes for agents), in English and Chinese by xml:lang."""

from __future__ import annotations

from component.texts import Texts, lang_code

TEXTS: dict[str, tuple[str, str]] = {
    "intro": ("Hi, I am the automatic assistant.", "您好，我是智能助手。"),
    "welcome": ("Ask me your question, or write “human” at any time to talk to a person.",
                "请直接输入您的问题；如需人工服务，随时回复“人工”。"),
    "answer_footer": ("Did this answer your question? If not, write “human” to talk to a person.",
                      "以上回答是否解决了您的问题？如未解决，回复“人工”即可转接人工客服。"),
    "suggest": ("I am not sure I understood. Did you mean one of these? Reply with its number, or rephrase "
                "your question:", "抱歉，我不太确定您的意思。您想问的是以下哪一个？请回复序号，或换一种说法："),
    "suggest_footer": ("Or write “human” to talk to a person.", "或回复“人工”转接人工客服。"),
    "rephrase": ("Sorry that did not help. Could you describe your question differently? Or write “human” to "
                 "talk to a person.", "抱歉没能帮到您。能否换一种说法描述您的问题？或回复“人工”转接人工客服。"),
    "resolved": ("Glad I could help! Write again any time.", "很高兴能帮到您！如有其他问题，欢迎随时咨询。"),
    "handoff_asked": ("Of course, I am passing you to a person now. They will see our conversation.",
                      "好的，正在为您转接人工客服，客服人员能看到我们之前的对话。"),
    "handoff_low_confidence": ("I could not find an answer to that, so I am passing you to a person. They will "
                               "see our conversation.",
                               "抱歉，我没有找到相关答案，正在为您转接人工客服，客服人员能看到我们之前的对话。"),
    "handoff_unanswered": ("I am sorry I could not help. I am passing you to a person, who will see our "
                           "conversation.", "抱歉没能解决您的问题，正在为您转接人工客服，客服人员能看到我们之前的对话。"),
    "handoff_max_turns": ("Let me pass you to a person who can look into this further. They will see our "
                          "conversation.", "为了更好地帮助您，正在为您转接人工客服，客服人员能看到我们之前的对话。"),
    # For agents: the transcript the bot hands over.
    "transcript_title": ("Conversation with the assistant before the hand-off (reason: {reason}):",
                         "转人工前与智能助手的对话（原因：{reason}）："),
    "reason_asked": ("the customer asked for a person", "客户要求人工服务"),
    "reason_low_confidence": ("no answer in the knowledge base", "知识库中没有答案"),
    "reason_unanswered": ("the answers did not help", "回答未能解决问题"),
    "reason_max_turns": ("long conversation", "对话轮数过多"),
    "speaker_customer": ("customer", "客户"),
    "speaker_bot": ("assistant", "助手"),
}


text = Texts(TEXTS)


def lang_of(stanza_lang: str | None, body: str, default: str = "en") -> str:
    """The customer's language: xml:lang when given, else Chinese when they write Chinese."""
    if stanza_lang:
        return lang_code(stanza_lang)
    from .analysis import has_cjk
    if body and has_cjk(body):
        return "zh"
    return default
