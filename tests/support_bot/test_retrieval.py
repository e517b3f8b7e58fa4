"""BM25 retrieval with confidence over a bilingual knowledge base."""

import pytest

from plugins.support_bot.retrieval import Entry, Index

from .kbdata import by_question, sample_index

ANSWER = 0.45   # the bot's default answer threshold
HANDOFF = 0.2   # the bot's default hand-off threshold

PARAPHRASES = [
    ("I forgot my password, what can I do?", "How do I reset my password?"),
    ("reset password", "How do I reset my password?"),
    ("How long until I get my refund?", "How long does a refund take?"),
    ("what does delivery cost", "How much does shipping cost?"),
    ("Can I cancel an order?", "How do I cancel my order?"),
    ("when do you open", "What are your opening hours?"),
    ("ＰＡＳＳＷＯＲＤ  ＲＥＳＥＴ", "How do I reset my password?"),
    ("请问怎么重置密码？", "如何重置密码？"),
    ("忘记密码了", "如何重置密码？"),
    ("退款什么时候到账", "退款多久到账？"),
    ("运费怎么算", "运费是多少？"),
    ("我的快递到哪了", "我的订单到哪里了？"),
    ("订单可以取消吗", "怎么取消订单？"),
    ("你们几点下班", "客服工作时间是什么时候？"),
    ("能开发票吗", "可以开发票吗？"),
    ("可以用微信付款吗", "支持哪些付款方式？"),
    ("我想退货怎么办", "怎么退货？"),
]

UNRELATED = ["Do you sell bicycles?", "My cat is sick and the weather is bad", "Is the product waterproof?",
             "你们卖自行车吗", "产品防水吗", "我要投诉你们的快递员态度很差", "今天天气怎么样"]


@pytest.fixture(scope="module")
def index() -> Index:
    return sample_index()


@pytest.mark.parametrize("question,expected", PARAPHRASES)
def test_paraphrases_find_their_entry_confidently(index, question, expected):
    hits = index.search(question)
    assert hits, question
    assert hits[0].entry.question == expected
    assert hits[0].confidence >= ANSWER, (question, hits[0].confidence)


@pytest.mark.parametrize("question", UNRELATED)
def test_questions_the_knowledge_base_does_not_cover_get_a_low_confidence(index, question):
    hits = index.search(question)
    assert not hits or hits[0].confidence < HANDOFF, (question, hits[0])


def test_the_exact_question_is_certain(index):
    hits = index.search("How do I cancel my order?")
    assert hits[0].confidence == pytest.approx(1.0)
    hits = index.search("怎么取消订单？")
    assert hits[0].confidence == pytest.approx(1.0)


def test_extra_unknown_words_lower_the_confidence(index):
    plain = index.search("track my package")[0]
    noisy = index.search("track my package of purple elephants with trumpets")[0]
    assert plain.entry.id == noisy.entry.id
    assert noisy.confidence < plain.confidence


def test_the_language_of_the_question_picks_the_language_of_the_entry(index):
    assert index.search("how do I get an invoice")[0].entry.lang == "en"
    assert index.search("怎么开发票")[0].entry.lang == "zh"


def test_hits_are_ordered_and_limited(index):
    hits = index.search("order", limit=2)
    assert 0 < len(hits) <= 2
    assert all(a.confidence >= b.confidence for a, b in zip(hits, hits[1:]))
    assert all(0.0 <= h.confidence <= 1.0 for h in hits)


def test_answer_text_is_searched_with_a_lower_weight(index):
    # "PDF" only appears in the answers of the invoice entries.
    hits = index.search("PDF")
    assert hits and "invoice" in hits[0].entry.answer.lower() or "发票" in hits[0].entry.answer
    assert hits[0].confidence == 0.0  # no phrasing matched: never enough to answer alone


def test_edits_are_seen_by_the_next_search():
    index = Index()
    assert index.search("anything") == []
    index.put(Entry("a", "q", "How do I export my data?", "Use Settings > Export."))
    assert index.search("export data")[0].entry.id == "a"
    index.put(Entry("a", "q", "How do I delete my account?", "Use Settings > Delete."))
    assert index.search("export data") == [] or index.search("export data")[0].confidence < HANDOFF
    assert index.search("delete my account")[0].entry.id == "a"
    assert index.remove("a") and not index.remove("a")
    assert index.search("delete my account") == [] and len(index) == 0


def test_keywords_and_alternatives_are_phrasings(index):
    hit = index.search("money back")[0]
    assert hit.entry.question == "How long does a refund take?"
    assert hit.confidence >= ANSWER
    assert by_question(index, "How long does a refund take?").alternatives == ("When will I get my money back?",)


def test_a_large_knowledge_base_still_ranks_the_right_entry():
    from plugins.support_bot.bench_retrieval import synthetic_entries

    index = Index()
    entries = synthetic_entries(3000, seed=7)
    index.put_many(entries)
    target = entries[1234]
    hits = index.search(target.question)
    assert hits[0].entry.id == target.id and hits[0].confidence == pytest.approx(1.0)


def test_without_auto_build_searches_use_the_installed_snapshot_until_the_next():
    index = Index(auto_build=False)
    index.put(Entry("a", "q", "How do I export my data?", "Use Settings > Export."))
    assert index.search("export data") == []   # nothing installed yet
    index.install(index.make_snapshot(index.contents()))
    assert index.search("export data")[0].entry.id == "a"
    index.remove("a")
    index.put(Entry("b", "q", "How do I delete my account?", "Use Settings > Delete."))
    assert index.dirty and index.search("export data")[0].entry.id == "a"   # the old snapshot still answers
    index.build()
    assert index.search("delete my account")[0].entry.id == "b" and index.search("export data") == []


def test_benchmark_runs_in_its_smallest_size():
    from plugins.support_bot.bench_retrieval import main, run

    result = run(entries_count=300, queries=30)
    assert result["entries"] == 300 and result["queries"] == 30
    assert 0 < result["cpu_p50_ms"] <= result["cpu_max_ms"] and result["p50_ms"] <= result["max_ms"]
    assert main(["--entries", "200", "--queries", "10", "--json"]) == 0
