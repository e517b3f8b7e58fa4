"""Text analysis: normalisation, English words, CJK n-grams, filler."""

from plugins.support_bot.analysis import has_cjk, is_cjk, normalize, stem, terms


def test_full_width_and_case_are_normalised():
    assert normalize("ＲＥＳＥＴ　Ｐａｓｓｗｏｒｄ！１２３") == "reset password!123"
    assert terms("ＲＥＳＥＴ Ｐａｓｓｗｏｒｄ") == terms("reset password") == ["reset", "password"]


def test_punctuation_separates_words_in_both_scripts():
    assert terms("refund,shipping;invoice") == [stem("refund"), stem("shipping"), stem("invoice")]
    assert "款运" not in terms("退款，运费")  # no bigram across the comma
    assert "退款" in terms("退款，运费") and "运费" in terms("退款，运费")


def test_cjk_runs_give_bigrams_and_unigrams():
    found = terms("修改密码")
    assert ["修", "修改", "改", "改密", "密", "密码", "码"] == found


def test_common_characters_are_kept_only_inside_bigrams():
    found = terms("我是密码")
    assert "是" not in found and "我" not in found
    assert "我是" in found and "是密" in found


def test_the_particle_de_separates_words():
    assert terms("我的订单") == ["订", "订单", "单"]


def test_chinese_filler_and_question_word_synonyms():
    assert terms("请问怎么退款") == terms("怎么退款")
    assert terms("如何退款") == terms("怎么退款")
    assert terms("你好") == []


def test_english_stopwords_and_filler_are_dropped():
    assert terms("Hello, could you please tell me how I reset my password?") == ["how", "reset", "password"]
    assert terms("thanks") == []


def test_inflections_meet():
    for group in (("password", "passwords"), ("change", "changes", "changing", "changed"),
                  ("ship", "shipping", "shipped"), ("cancel", "cancelled", "canceling"),
                  ("refund", "refunds", "refunding"), ("delivery", "deliveries"), ("box", "boxes")):
        assert len({stem(w) for w in group}) == 1, group


def test_mixed_scripts():
    assert terms("iPhone15的电池") == ["iphone15", "电", "电池", "池"]
    assert has_cjk("hello 世界") and not has_cjk("hello world")
    assert is_cjk("密码") and not is_cjk("密a")
