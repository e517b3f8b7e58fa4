"""The bot's decisions turn by turn (pure policy over the sample knowledge base)."""

import pytest

from plugins.support_bot import dialogue as dlg
from plugins.support_bot.dialogue import Conversation, Policy

from .kbdata import sample_index


@pytest.fixture(scope="module")
def index():
    return sample_index()


def conversation(lang="en") -> Conversation:
    return Conversation("t1", "help", "cust@example.org", lang, 0.0)


def turn(conv, index, policy, text):
    step = dlg.decide(conv, text, index, policy)
    assert not isinstance(step, dlg.AskLlm)
    dlg.apply(conv, step, text, f"bot reply to {text}", 1.0)
    return step


def test_a_confident_question_is_answered(index):
    conv = conversation()
    step = turn(conv, index, Policy(), "How long until I get my refund?")
    assert isinstance(step, dlg.Answer) and step.source == "kb"
    assert step.entry.question == "How long does a refund take?"
    assert conv.answered == 1 and conv.last_entry == step.entry.id and conv.state == "active"
    assert [t.role for t in conv.transcript] == ["customer", "bot"]
    assert conv.transcript[1].kind == "answer" and conv.transcript[1].confidence == pytest.approx(step.confidence)


def test_chinese_question_is_answered(index):
    step = turn(conversation("zh"), index, Policy(), "退款什么时候到账？")
    assert isinstance(step, dlg.Answer) and step.entry.question == "退款多久到账？"


@pytest.mark.parametrize("text", ["转人工", "human", "I want to talk to a real person"])
def test_asking_for_a_person_hands_off_even_mid_answer(index, text):
    conv = conversation()
    turn(conv, index, Policy(), "reset password")
    step = turn(conv, index, Policy(), text)
    assert isinstance(step, dlg.Handoff) and step.reason == "asked"
    assert conv.state == "handed_off" and conv.reason == "asked"


def test_nothing_close_hands_off_at_once(index):
    conv = conversation()
    step = turn(conv, index, Policy(), "Do you sell bicycles?")
    assert isinstance(step, dlg.Handoff) and step.reason == "low_confidence"


def test_unsure_suggests_then_hands_off_after_max_unanswered(index):
    policy = Policy(max_unanswered=2)
    conv = conversation()
    step = turn(conv, index, policy, "I want to change my order's delivery address")
    assert isinstance(step, dlg.Suggest) and 1 <= len(step.hits) <= policy.suggestions
    assert conv.unanswered == 1 and conv.suggestions == [h.entry.id for h in step.hits]
    step = turn(conv, index, policy, "the address on my parcel label is wrong")
    assert isinstance(step, dlg.Handoff) and step.reason == "unanswered"
    assert conv.unanswered == 2


def test_a_number_picks_a_suggestion(index):
    conv = conversation()
    first = turn(conv, index, Policy(), "I want to change my order's delivery address")
    assert isinstance(first, dlg.Suggest)
    step = turn(conv, index, Policy(), "２")
    assert isinstance(step, dlg.Answer) and step.source == "choice"
    assert step.entry.id == first.hits[1].entry.id and conv.suggestions == []


def test_thanks_after_an_answer_resolves(index):
    conv = conversation("zh")
    turn(conv, index, Policy(), "运费怎么算")
    step = turn(conv, index, Policy(), "好的，谢谢")
    assert isinstance(step, dlg.Resolved) and conv.state == "resolved"


def test_not_helpful_counts_as_unanswered(index):
    policy = Policy(max_unanswered=2)
    conv = conversation()
    turn(conv, index, policy, "what does delivery cost")
    step = turn(conv, index, policy, "no, that does not help")
    assert isinstance(step, dlg.Rephrase) and conv.unanswered == 1 and conv.last_entry == ""
    turn(conv, index, policy, "what does delivery cost")
    step = turn(conv, index, policy, "not helpful")
    assert isinstance(step, dlg.Handoff) and step.reason == "unanswered"


def test_a_greeting_gets_the_welcome_without_counting_as_unanswered(index):
    conv = conversation()
    step = turn(conv, index, Policy(), "Hello!")
    assert isinstance(step, dlg.Welcome) and conv.unanswered == 0


def test_long_conversations_hand_off(index):
    policy = Policy(max_turns=3)
    conv = conversation()
    for text in ("reset password", "what does delivery cost", "when do you open"):
        assert isinstance(turn(conv, index, policy, text), dlg.Answer)
    step = turn(conv, index, policy, "Can I cancel an order?")
    assert isinstance(step, dlg.Handoff) and step.reason == "max_turns"


def test_thresholds_come_from_the_policy(index):
    question = "Hello, where is my package? I ordered last week"   # about 0.35
    assert isinstance(dlg.decide(conversation(), question, index, Policy()), dlg.Suggest)
    assert isinstance(dlg.decide(conversation(), question, index, Policy(answer_threshold=0.3)), dlg.Answer)
    assert isinstance(dlg.decide(conversation(), question, index,
                                 Policy(answer_threshold=0.9, handoff_threshold=0.8)), dlg.Handoff)


def test_llm_is_asked_only_when_retrieval_found_something(index):
    policy = Policy(llm=True, llm_min_confidence=0.2)
    asked = dlg.decide(conversation(), "How long until I get my refund?", index, policy)
    assert isinstance(asked, dlg.AskLlm) and asked.hits
    assert isinstance(dlg.decide(conversation(), "Do you sell bicycles?", index, policy), dlg.Handoff)
    assert isinstance(dlg.decide(conversation(), "转人工", index, policy), dlg.Handoff)


def test_after_llm(index):
    policy = Policy(llm=True)
    hits = index.search("How long until I get my refund?")
    answer = dlg.after_llm(conversation(), hits, policy, "About a week.", failed=False)
    assert isinstance(answer, dlg.Answer) and answer.source == "llm" and answer.text == "About a week."
    fallback = dlg.after_llm(conversation(), hits, policy, None, failed=True)
    assert isinstance(fallback, dlg.Answer) and fallback.source == "kb"   # the knowledge base still knows
    declined = dlg.after_llm(conversation(), hits, policy, None, failed=False)
    assert isinstance(declined, dlg.Suggest)   # the model saw no answer: never a guess


def test_transcript_round_trips_through_json(index):
    conv = conversation()
    turn(conv, index, Policy(), "reset password")
    restored = [dlg.Turn.from_json(t.to_json()) for t in conv.transcript]
    assert [(t.role, t.text, t.kind, t.entry) for t in restored] == \
        [(t.role, t.text, t.kind, t.entry) for t in conv.transcript]
