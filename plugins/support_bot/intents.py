"""What a customer's message asks of the bot besides a knowledge-base answer.

- A person: "人工", "转人工", "human", "agent", "real person", … Phrases that
  can only mean a person ("转人工", "real person", "talk to a human") count
  anywhere in the message; single words that also occur in ordinary questions
  ("agent" in "user agent", "客服" in "客服电话是多少") count only in a short
  message, where they are the whole request.
- Feedback on the last answer: thanks / solved, or "no" / "not helpful".
- A choice among numbered suggestions: "2", "２", "第2个", "#2".
"""

from __future__ import annotations

import re
from typing import Iterable

from .analysis import normalize, words

#: Phrases that ask for a person wherever they appear (normalised form).
HUMAN_PHRASES_ZH = ("转人工", "人工客服", "人工服务", "找人工", "接人工", "要人工", "真人", "人工坐席", "转接人工",
                    "转客服", "找客服")
#: "人工" alone asks for a person anywhere, except in words such as 人工智能 (artificial intelligence).
_RENGONG = re.compile("人工(?!智能|合成|草|湖|降雨|呼吸|费)")
HUMAN_PHRASES_EN = ("real person", "real human", "human being", "live agent", "live person", "live chat",
                    "human agent", "talk to a human", "speak to a human", "talk to a person", "speak to a person",
                    "talk to someone", "speak to someone", "talk to an agent", "speak to an agent",
                    "talk to a representative", "speak to a representative", "customer service representative",
                    "transfer me", "connect me to", "a human please", "human please", "agent please",
                    "operator please")
#: Words that ask for a person when they are (almost) the whole message.
HUMAN_WORDS = frozenset({"human", "agent", "person", "operator", "representative", "rep", "staff", "someone",
                         "somebody", "support"})
#: Chinese words that ask for a person when they are (almost) the whole message.
HUMAN_WORDS_ZH = ("有人吗", "客服", "真人", "找人", "来人", "人呢")
_ZH_POLITE = re.compile("我要|我想|我需要|请|帮我|给我|麻烦|转|找|接|吗|呢|啊|呀|在|谢谢|你好|您好|的|一下")
#: At most this many words (CJK runs count by characters / 2) for a short request.
SHORT_MESSAGE = 5

THANKS = ("谢谢", "多谢", "感谢", "解决了", "明白了", "知道了", "好的", "可以了", "没问题了", "懂了",
          "thank", "thanks", "thx", "solved", "that helps", "that helped", "got it", "great", "perfect",
          "ok", "okay", "cool", "awesome")
NOT_HELPFUL = ("没用", "没有用", "不对", "不是", "没解决", "没有解决", "不行", "不是这个", "答非所问", "没帮助",
               "not helpful", "doesn't help", "does not help", "didn't help", "did not help", "not what i",
               "wrong answer", "that's wrong", "not it", "no", "nope", "useless")

_CHOICE = re.compile(r"^\s*(?:#|no\.?\s*|option\s*|第)?\s*(\d{1,2})\s*(?:个|条|项|号|\.|\))?\s*$")
_NEGATED_THANKS = re.compile(r"\b(?:no|not)\s+thanks?\b")


def _length(text: str) -> int:
    total = 0
    for word in words(text):
        total += max(1, len(word) // 2) if not word.isascii() else 1
    return total


def _contains_phrase(normalised: str, phrases: Iterable[str]) -> bool:
    for phrase in phrases:
        if phrase.isascii():
            if re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", normalised):
                return True
        elif phrase in normalised:
            return True
    return False


def wants_human(text: str, extra_phrases: Iterable[str] = (), extra_words: Iterable[str] = ()) -> bool:
    """Does the customer ask to talk to a person?"""
    normalised = normalize(text)
    if _contains_phrase(normalised, (*HUMAN_PHRASES_ZH, *HUMAN_PHRASES_EN,
                                     *(normalize(p) for p in extra_phrases))):
        return True
    if _RENGONG.search(normalised):
        return True
    if _length(text) > SHORT_MESSAGE:
        return False
    if any(w in normalised for w in HUMAN_WORDS_ZH):
        # "客服在吗" is a request for a person, "客服电话是多少" a question: the person
        # word must be nearly all there is once politeness is taken away.
        rest = "".join(w for w in words(text) if not w.isascii())
        for word in HUMAN_WORDS_ZH:
            rest = rest.replace(word, "")
        if len(_ZH_POLITE.sub("", rest)) <= 1:
            return True
    found = set(words(text))
    vocabulary = HUMAN_WORDS | {normalize(w) for w in extra_words}
    if found & vocabulary:
        return True
    # Plural or possessive forms of the English words ("agents", "humans").
    return any(w.rstrip("s") in vocabulary for w in found if w.isascii())


def is_thanks(text: str) -> bool:
    normalised = normalize(text)
    if _length(text) > 8 or _NEGATED_THANKS.search(normalised):
        return False
    return _contains_phrase(normalised, THANKS) and not is_not_helpful(text)


def is_not_helpful(text: str) -> bool:
    normalised = normalize(text)
    if _length(text) > 8:
        return _contains_phrase(normalised, [p for p in NOT_HELPFUL if len(p) > 3])
    return _contains_phrase(normalised, NOT_HELPFUL)


def choice(text: str, count: int) -> int | None:
    """The 1-based number the customer picked among ``count`` suggestions, if that is all they wrote."""
    match = _CHOICE.match(normalize(text))
    if not match:
        return None
    number = int(match.group(1))
    return number if 1 <= number <= count else None
