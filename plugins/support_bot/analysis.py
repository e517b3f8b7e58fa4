"""Text analysis for retrieval in Chinese and English: normalise, then cut into terms.

- Normalisation: NFKC (full-width letters, digits and punctuation become
  half-width), then casefold.
- Latin-script (and other space-separated) words: runs of letters and digits,
  with a light suffix stripping so "passwords"/"resetting" meet "password"/"reset".
- CJK text has no spaces and no word list is shipped (no downloads, no model
  weights), so a run of CJK characters yields its character bigrams (which
  carry most of the meaning: 密码, 退款) and its unigrams (recall when the
  customer words it differently: 退 in 退货/退款).
- Filler that customers add but knowledge-base questions lack ("请问", "please",
  "hello") is dropped: an unmatched filler word would otherwise count as a part
  of the question the knowledge base does not cover and lower the confidence.
"""

from __future__ import annotations

import re
import unicodedata

# Han (with extension A and compatibility), kana and hangul: scripts written without spaces.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(f"([{_CJK}]+)|([^\\W_{_CJK}]+)")
_CJK_ONLY = re.compile(f"[{_CJK}]+")

#: English words that carry no topic (function words and chat filler).
EN_STOPWORDS = frozenset("""
a an the and or but if then so than that this these those there here it its it's
is am are was were be been being do does did doing done have has had having
i me my mine we us our you your yours he him his she her they them their
to of in on at by for from with about as into onto over under up down out off
can could would should will shall may might must
please pls plz hi hello hey dear thanks thank thx ok okay yes no not
just also still very really quite some any all
want wanted wanna need needed like would know tell let get got
""".split())

#: Chinese filler phrases removed before cutting a CJK run into n-grams.
ZH_FILLER = ("请问一下", "请问", "你好", "您好", "麻烦你", "麻烦您", "麻烦", "谢谢你", "谢谢您", "谢谢",
             "我想知道", "我想问", "想问一下", "想问", "一下", "可不可以", "能不能", "有没有", "是不是",
             "的话", "的", "吗", "呢", "吧", "啊", "呀", "哦", "嘛", "哈",
             # Question words: "怎么退货" asks what "退货" asks; they carry no topic.
             "怎么", "什么")

#: Interchangeable question words, mapped to one form (then dropped as filler).
ZH_SYNONYMS = {"如何": "怎么", "怎样": "怎么", "怎么样": "怎么", "咋": "怎么", "为何": "为什么", "啥": "什么"}

#: Single characters too common to mean anything as unigrams (their bigrams still count).
ZH_STOP_CHARS = frozenset("的了是我你您他她它们在和与及或就也都而个这那么么吗呢吧啊呀哦嘛哈请")

_VOWEL = re.compile("[aeiouy]")
_FILLER = re.compile("|".join(sorted(map(re.escape, ZH_FILLER), key=len, reverse=True)))
_SYNONYM = re.compile("|".join(sorted(map(re.escape, ZH_SYNONYMS), key=len, reverse=True)))


def normalize(text: str) -> str:
    """NFKC (full-width to half-width and compatibility forms) and casefold."""
    if text.isascii():
        return text.lower()   # the same result, without the Unicode tables
    return unicodedata.normalize("NFKC", text).casefold()


def stem(word: str) -> str:
    """A deliberately light English suffix stripper (plurals, -ing, -ed, final e, doubled consonant).

    It only has to send a word and its inflections to the same key; the key
    need not be a real word ("changing", "changes" and "change" all become "chang").
    """
    if len(word) <= 2 or not word.isascii() or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("es") and len(word) > 4 and word[-3] in "sxz":
        word = word[:-2]
    elif word.endswith("s") and len(word) > 3 and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and not word.endswith("eed"):
            rest = word[:-len(suffix)]
            if len(rest) >= 2 and _VOWEL.search(rest):
                word = rest
            break
    if len(word) >= 3 and word.endswith("e") and _VOWEL.search(word[:-1]):
        word = word[:-1]
    if len(word) >= 3 and word[-1] == word[-2] and word[-1] not in "aeious":
        word = word[:-1]
    return word


def _cjk_terms(run: str, out: list[str]) -> None:
    run = _SYNONYM.sub(lambda m: ZH_SYNONYMS[m.group(0)], run)
    for part in _FILLER.split(run):
        for i, ch in enumerate(part):
            if ch not in ZH_STOP_CHARS:
                out.append(ch)
            if i + 1 < len(part):
                out.append(part[i:i + 2])


def terms(text: str, keep_stopwords: bool = False) -> list[str]:
    """The terms of ``text`` in order (with repeats): words, CJK bigrams and unigrams."""
    out: list[str] = []
    for cjk, word in _TOKEN.findall(normalize(text)):
        if cjk:
            _cjk_terms(cjk, out)
        elif keep_stopwords or word not in EN_STOPWORDS:
            out.append(stem(word))
    return out


def words(text: str) -> list[str]:
    """Normalised words without stemming or stopword removal (for phrase rules such as hand-off)."""
    out: list[str] = []
    for cjk, word in _TOKEN.findall(normalize(text)):
        out.append(cjk or word)
    return out


def has_cjk(text: str) -> bool:
    return any(m.group(1) for m in _TOKEN.finditer(text))


def is_cjk(text: str) -> bool:
    """True when ``text`` is entirely CJK characters."""
    return bool(text) and _CJK_ONLY.fullmatch(text) is not None
