"""Customer satisfaction (CSAT) after a conversation closes (pure, no I/O).

The customer is asked once, in a chat message carrying a XEP-0004 form (``rating``: 1-5,
``comment``: optional) for clients that render forms, and a text asking to reply with a digit
for the others. A reply like ``5``, ``4 quick and kind``, ``５分`` or ``五星 很好`` is a rating
with an optional comment.
"""

from __future__ import annotations

import re
from typing import Mapping

from component.forms import Form, new_form
from component.texts import is_zh

from .stanza import RATING_FORM

MAX_COMMENT = 1000
SCORES = (1, 2, 3, 4, 5)
_LABELS = {1: ("1 – very poor", "1 – 很差"), 2: ("2 – poor", "2 – 较差"), 3: ("3 – okay", "3 – 一般"),
           4: ("4 – good", "4 – 满意"), 5: ("5 – excellent", "5 – 非常满意")}
_CJK_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
# A digit, optionally "/5", "分", "星", "stars"; then separators; then the comment.
_DIGIT = re.compile(r"^([1-5])(?![0-9.])\s*(?:/\s*5|分|星|颗星|stars?|points?)?\s*[,.;:!，。；：！、-]*\s*(.*)$",
                    re.IGNORECASE | re.DOTALL)
_CJK = re.compile(r"^([一二两三四五])\s*(?:分|星|颗星)\s*[,.;:!，。；：！、-]*\s*(.*)$", re.DOTALL)


def _halfwidth(text: str) -> str:
    """Full-width digits and punctuation (common in Chinese input methods) to ASCII."""
    return "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in text)


def parse_text(body: str) -> tuple[int, str] | None:
    """(score, comment) when ``body`` is a rating reply, else None."""
    text = _halfwidth(body.strip())
    match = _DIGIT.match(text)
    if match:
        return int(match[1]), match[2].strip()[:MAX_COMMENT]
    match = _CJK.match(text)
    if match:
        return _CJK_DIGITS[match[1]], match[2].strip()[:MAX_COMMENT]
    return None


def read_form(values: Mapping[str, list[str]]) -> tuple[int, str] | None:
    """(score, comment) from a submitted rating form; None when it carries no valid score."""
    raw = (values.get("rating") or [""])[0].strip()
    if not raw.isdigit() or int(raw) not in SCORES:
        return None
    comment = "\n".join(v for v in values.get("comment", []) if v).strip()
    return int(raw), comment[:MAX_COMMENT]


def build_form(lang: str) -> Form:
    zh = is_zh(lang)
    form = new_form("请为本次服务评分" if zh else "Rate this conversation",
                    "1 分最低，5 分最高；也可以直接回复一个数字。" if zh
                    else "1 is the lowest, 5 the highest; you may also just reply with a digit.",
                    form_type_value=RATING_FORM)
    field = form.add_field(var="rating", ftype="list-single", label="评分" if zh else "Rating", required=True)
    for score in reversed(SCORES):
        field.add_option(label=_LABELS[score][1 if zh else 0], value=str(score))
    form.add_field(var="comment", ftype="text-multi", label="意见（可选）" if zh else "Comment (optional)")
    return form
