"""Version diffs: character-level for Chinese, word-level for Latin text, lists diffed too, HTML escaped."""

from __future__ import annotations

from types import SimpleNamespace

from questions.diff import inline_diff, inline_diff_html, list_diff_rows, text_diff_rows, tokenize, version_diff


def test_tokenize_splits_chinese_by_character_and_latin_by_word():
    assert tokenize("SFT 是监督微调") == ["SFT", " ", "是", "监", "督", "微", "调"]
    assert tokenize("Sparse-Feature，训练") == ["Sparse", "-", "Feature", "，", "训", "练"]
    text = "混合 mixed 文本\n第二行：LoRA-r=8。"
    assert "".join(tokenize(text)) == text


def test_chinese_change_marks_only_the_changed_characters():
    old = "SFT 是稀疏特征训练，用于降低计算量。"
    new = "SFT 是监督微调，用于让模型遵循指令。"
    left, right = inline_diff(old, new)
    assert "<del>稀疏特征训练</del>" in left
    assert "<ins>监督微调</ins>" in right
    # Unchanged characters around the change stay plain on both sides.
    assert left.startswith("SFT 是") and right.startswith("SFT 是")
    assert "，用于" in left and "，用于" in right


def test_latin_words_are_replaced_whole():
    html = inline_diff_html("Sparse Feature Training", "Supervised Fine-Tuning")
    assert "<del>Sparse</del>" in html
    assert "<ins>Supervised</ins>" in html
    assert "<del>S</del>" not in html  # never letter by letter


def test_long_chinese_text_is_not_garbled_by_difflib_autojunk():
    common = "的是在了和" * 80  # frequent characters: autojunk would ignore them over 200 tokens
    left, right = inline_diff(common + "旧结论。", common + "新结论。")
    assert left.count("<del>") == 1 and right.count("<ins>") == 1
    assert "<del>旧</del>" in left and "<ins>新</ins>" in right


def test_body_rows_align_lines_and_report_additions():
    old = "第一段不变。\nSFT 是稀疏特征训练。\n"
    new = "第一段不变。\nSFT 是监督微调。\n补充：常与 RLHF 配合。\n"
    rows = text_diff_rows(old, new)
    assert [row.kind for row in rows] == ["equal", "changed", "added"]
    assert rows[2].left == "" and rows[2].right == "<ins>补充：常与 RLHF 配合。</ins>"
    assert (rows[1].left_number, rows[1].right_number) == (2, 2)


def test_html_in_text_is_escaped():
    left, right = inline_diff("<script>alert(1)</script>", "<b>安全</b>")
    assert "<script" not in left and "<b>" not in right
    assert left.startswith("&lt;") and right.startswith("&lt;")


def test_key_points_and_misconceptions_are_diffed():
    old = SimpleNamespace(body="答案", key_points=["要点一", "要点二"], misconceptions=["SFT 是稀疏特征训练"])
    new = SimpleNamespace(body="答案", key_points=["要点一", "要点二（修订）", "要点三"], misconceptions=[])
    diff = version_diff(old, new)
    assert [row.kind for row in diff.body] == ["equal"]
    assert [row.kind for row in diff.key_points] == ["equal", "changed", "added"]
    assert "<ins>（修订）</ins>" in diff.key_points[1].right
    assert [row.kind for row in diff.misconceptions] == ["removed"]
    assert diff.stats.inserted_chars > 0 and diff.stats.deleted_chars > 0
    assert not diff.identical
    assert version_diff(old, old).identical


def test_list_rows_of_identical_lists_are_all_equal():
    assert [row.kind for row in list_diff_rows(["a", "b"], ["a", "b"])] == ["equal", "equal"]
