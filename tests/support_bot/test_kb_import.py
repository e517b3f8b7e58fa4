"""Knowledge-base files: CSV (several dialects, Chinese headers) and JSON, with row-level errors."""

from plugins.support_bot.kb_import import parse, parse_csv, parse_json, to_json
from plugins.support_bot.retrieval import Entry

from .kbdata import read


def test_sample_csv():
    parsed = parse(read("kb_en.csv"))
    assert not parsed.errors and len(parsed.drafts) == 9
    first = parsed.drafts[0]
    assert first.question == "How do I reset my password?"
    assert first.answer.startswith('Open Settings > Security and choose "Reset password"')
    assert first.alternatives == ("I forgot my password", "Cannot log in because I lost my password")
    assert first.keywords == ("password", "reset", "login") and first.lang == "en"
    assert parsed.drafts[4].alternatives == ()


def test_sample_json():
    parsed = parse(read("kb_zh.json"))
    assert not parsed.errors and len(parsed.drafts) == 9
    refund = parsed.drafts[1]
    assert refund.keywords == ("退款", "到账")  # a string split on the full-width comma
    assert refund.lang == "zh"


def test_chinese_headers_semicolons_and_bom():
    text = "\ufeff问题;答案;相似问题;关键词;语言\n怎么退货？;在订单页申请退货。;我想退货|退货流程;退货、退款;中文\n"
    parsed = parse_csv(text)
    assert not parsed.errors
    assert parsed.drafts[0].alternatives == ("我想退货", "退货流程")
    assert parsed.drafts[0].keywords == ("退货", "退款") and parsed.drafts[0].lang == "zh"


def test_tab_separated_with_multiline_answer():
    text = 'question\tanswer\nWhere are you?\t"Berlin,\nGermany"\n'
    parsed = parse_csv(text)
    assert not parsed.errors and parsed.drafts[0].answer == "Berlin,\nGermany"


def test_row_errors_are_reported_with_their_row_number():
    text = "question,answer,lang\nGood question,Good answer,en\n,Answer without a question,en\nQ,,en\nQ2,A2,klingon\n\n"
    parsed = parse_csv(text)
    assert len(parsed.drafts) == 1
    assert parsed.errors == ["row 3: the question is empty", "row 4: the answer is empty",
                             "row 5: unknown language 'klingon' (en, zh or empty)"]


def test_missing_columns_and_empty_files():
    assert parse_csv("title,body\nx,y\n").errors == [
        "the header row needs at least the columns question and answer (问题, 答案)"]
    assert parse_csv("").errors == ["the file is empty"]


def test_json_shapes_and_errors():
    assert len(parse_json('[{"q": "A?", "a": "B"}]').drafts) == 1
    assert parse_json('{"entries": "nope"}').errors == ['expected a list of entries, or {"entries": [...]}']
    assert parse_json("{not json").errors[0].startswith("not valid JSON")
    parsed = parse_json('[{"question": "A?", "answer": "B", "alternatives": ["A?", "C?", "C?"]}, 3]')
    assert parsed.drafts[0].alternatives == ("C?",)   # the question itself and duplicates are dropped
    assert parsed.errors == ["entry 2: not an object"]


def test_format_detection_and_export_round_trip():
    assert parse("[]").errors == [] and parse("[]").drafts == []
    entries = [Entry("x1", "help", "怎么退货？", "在订单页申请。", ("我想退货",), ("退货",), "zh")]
    back = parse(to_json(entries)).drafts
    assert (back[0].id, back[0].question, back[0].answer, back[0].alternatives, back[0].keywords, back[0].lang) == \
        ("x1", "怎么退货？", "在订单页申请。", ("我想退货",), ("退货",), "zh")
