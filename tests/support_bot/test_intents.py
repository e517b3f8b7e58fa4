"""What customers ask of the bot besides an answer: a person, feedback, a numbered choice."""

import pytest

from plugins.support_bot.intents import choice, is_not_helpful, is_thanks, wants_human


@pytest.mark.parametrize("text", ["人工", "转人工", "我要转人工！", "人工客服", "请帮我转接人工，谢谢", "找客服", "客服",
                                  "客服在吗？", "有人吗", "真人", "human", "Agent", "agents?", "HUMAN please",
                                  "I want to talk to a human please", "Can I speak to someone?", "real person",
                                  "Let me talk to a real person about my refund, this is going nowhere",
                                  "ＨＵＭＡＮ"])
def test_asking_for_a_person(text):
    assert wants_human(text)


@pytest.mark.parametrize("text", ["What is the user agent string of your app and why is it wrong",
                                  "客服电话是多少", "人工智能是什么意思啊请给我讲讲", "这个人工费多少钱",
                                  "personal data deletion", "How do I become a sales agent for your brand in Spain?",
                                  "退款多久到账", "reset password"])
def test_ordinary_questions_are_not_requests_for_a_person(text):
    assert not wants_human(text)


def test_extra_phrases_and_words_from_the_options():
    assert not wants_human("I need a supervisor")
    assert wants_human("I need a supervisor", extra_phrases=["supervisor"])
    assert not wants_human("经理")
    assert wants_human("经理", extra_words=["经理"])


@pytest.mark.parametrize("text,thanks,unhelpful", [
    ("谢谢", True, False), ("thanks!", True, False), ("好的，谢谢", True, False), ("OK", True, False),
    ("no thanks", False, True), ("不是，这个没用", False, True), ("Thanks but that did not help", False, True),
    ("no", False, True), ("nope", False, True), ("没解决", False, True),
    ("I have no idea how to reset my password", False, False), ("How do I change my email address?", False, False),
])
def test_feedback_on_an_answer(text, thanks, unhelpful):
    assert is_thanks(text) is thanks
    assert is_not_helpful(text) is unhelpful


@pytest.mark.parametrize("text,expected", [("2", 2), ("２", 2), ("第2个", 2), ("#3", 3), ("2.", 2), ("option 1", 1),
                                           ("4", None), ("0", None), ("12 items", None), ("the second", None)])
def test_numbered_choice(text, expected):
    assert choice(text, 3) == expected
