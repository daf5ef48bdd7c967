"""The seed importer: the parser on the shipped seed and on other shapes, and the import service."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from questions.importing import (
    Action,
    ImportSourceError,
    ParsedSource,
    line_question_split,
    number_split,
    questions_import,
    source_decode,
    source_parse,
)
from questions.models import Question, ReferenceAnswerVersion, Topic
from questions.search import question_search_filter

SEED = Path(settings.BASE_DIR) / "questions" / "data" / "seed_llm_interview.txt"
STRAY_LINE = "化，可以减轻这种问题。"
Status = ReferenceAnswerVersion.Status

EXPECTED_TOPICS = [
    ("大模型llms进阶面", "大模型（LLMs）进阶面", 1),
    ("大模型llms进阶面-2", "大模型（LLMs）进阶面（第二部分）", 60),
    ("大模型llms微调面", "大模型（LLMs）微调面", 118),
]
EXPECTED_NUMBERS = {
    "大模型llms进阶面": ["1", "2", "3", "4"],
    "大模型llms进阶面-2": ["1.1", "1.2", "1.3", "2", "3", "4", "5"],
    "大模型llms微调面": [str(number) for number in range(1, 24)],
}


@pytest.fixture(scope="module")
def seed() -> ParsedSource:
    return source_parse(source_decode(SEED.read_bytes()), file_name=SEED.name)


def parse(text: str, name: str = "notes.md") -> ParsedSource:
    return source_parse(source_decode(text.encode("utf-8")), file_name=name)


def questions_of(source: ParsedSource) -> dict[tuple[str, str], object]:
    return {(topic.slug, question.number): question for topic in source.topics for question in topic.questions}


def normalised(line: str) -> str:
    """A line compared without its spacing or bold markers (the importer re-indents and closes **)."""
    return " ".join(line.replace("**", "").split())


# --- The shipped seed, parsed ----------------------------------------------------------------------


def test_seed_topics_are_the_three_parts_in_file_order(seed: ParsedSource) -> None:
    assert [(topic.slug, topic.name, topic.line) for topic in seed.topics] == EXPECTED_TOPICS
    assert {topic.slug: [q.number for q in topic.questions] for topic in seed.topics} == EXPECTED_NUMBERS


def test_seed_titles_groups_parents_and_source_lines(seed: ParsedSource) -> None:
    questions = questions_of(seed)
    expected = {
        ("大模型llms进阶面", "1"): ("目前主流的开源模型体系有哪些？", 2, ""),
        ("大模型llms进阶面", "4"): ("大模型LLM的架构介绍？", 42, ""),
        ("大模型llms进阶面-2", "1.1"): ("什么是 LLMs 复读机问题？", 62, "LLMs 复读机问题"),
        ("大模型llms进阶面-2", "1.2"): ("为什么会出现 LLMs 复读机问题？", 64, "LLMs 复读机问题"),
        ("大模型llms进阶面-2", "1.3"): ("如何缓解 LLMs 复读机问题？", 70, "LLMs 复读机问题"),
        ("大模型llms进阶面-2", "2"): ("LLaMA 系列问题", 78, ""),
        ("大模型llms进阶面-2", "3"): ("什么情况用Bert模型，什么情况用LLaMA、ChatGLM类大模型，咋选？", 90, ""),
        ("大模型llms微调面", "1"): ("全参数微调显存需求", 119, ""),
        ("大模型llms微调面", "2"): ("SFT和LLM性能", 121, ""),
        ("大模型llms微调面", "17"): ("能力劣化和灾难性遗忘", 151, ""),
        ("大模型llms微调面", "18"): ("微调模型显存需求", 155, ""),
        ("大模型llms微调面", "23"): ("模型参数迭代实验", 165, ""),
    }
    for key, (title, line, group) in expected.items():
        question = questions[key]
        assert (question.title, question.line, question.group) == (title, line, group), key
    # "1.LLMs 复读机问题" only groups its sub-questions: it is not a question and no one's parent.
    assert all(question.parent_number is None for question in questions.values())
    assert not any(question.title.strip() == "复读机问题" for question in questions.values())


def test_seed_warnings_name_the_repeated_heading_the_repair_and_the_dropped_line(seed: ParsedSource) -> None:
    messages = {warning.line: warning.message for warning in seed.warnings}
    assert set(messages) == {60, 89, 153}
    assert "appears again" in messages[60] and "大模型llms进阶面-2" in messages[60]
    assert "unclosed **" in messages[89]
    assert "dropped" in messages[153] and STRAY_LINE in messages[153]


def test_seed_unclosed_bold_is_closed_after_the_term(seed: ParsedSource) -> None:
    body = questions_of(seed)[("大模型llms进阶面-2", "2")].body
    assert "- **硬件升级**：使用更强大的硬件资源" in body
    for topic in seed.topics:
        for question in topic.questions:
            assert question.body.count("**") % 2 == 0, (topic.slug, question.number)


def test_seed_answers_have_no_code_block_indentation(seed: ParsedSource) -> None:
    """No body line is indented 4+ spaces, and an indented line only ever continues a list item."""
    for topic in seed.topics:
        for question in topic.questions:
            lines = question.body.split("\n")
            assert lines[0] == lines[0].lstrip(), (topic.slug, question.number)
            for index, line in enumerate(lines):
                indent = len(line) - len(line.lstrip(" "))
                assert indent < 4, (topic.slug, question.number, line)
                if indent:
                    above = [text for text in lines[:index] if text.strip()]
                    assert any(re.match(r"^[-*+] ", text) for text in above), (topic.slug, question.number, line)


def test_seed_no_answer_text_is_lost_or_duplicated(seed: ParsedSource) -> None:
    """Every content line of the seed is in exactly one question; only the stray repeat is gone."""
    texts = []
    for topic in seed.topics:
        for question in topic.questions:
            # A "标题: 回答" question is its title, ": " and its answer, as in the file.
            text = f"{question.title}: {question.body}" if topic.slug == "大模型llms微调面" else question.body
            texts.append([normalised(line) for line in text.split("\n") if line.strip()])

    content = [
        normalised(line)
        for line in SEED.read_text(encoding="utf-8").split("\n")
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for line in content:
        found = sum(body.count(line) for body in texts)
        assert found == (0 if line == STRAY_LINE else 1), line
    assert sum(len(body) for body in texts) == len(content) - 1


# --- Other shapes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "number", "title"),
    [
        ("1.1什么是 LLMs 复读机问题？", "1.1", "什么是 LLMs 复读机问题？"),
        ("1.LLMs 复读机问题", "1", "LLMs 复读机问题"),
        ("1. 目前主流的开源模型体系有哪些？", "1", "目前主流的开源模型体系有哪些？"),
        ("12、分词", "12", "分词"),
        ("3) 量化", "3", "量化"),
        ("Q7: 什么是 KV cache？", "7", "什么是 KV cache？"),
        ("q2 LoRA", "2", "LoRA"),
        ("问题3：RLHF", "3", "RLHF"),
        ("第十二题 DPO", "12", "DPO"),
        ("一、基础", "1", "基础"),
        ("二十三、进阶", "23", "进阶"),
        ("（四）部署", "4", "部署"),
        ("**2. 加粗的标题**", "2", "加粗的标题"),
        ("01.02 零填充", "1.2", "零填充"),
        ("4", "4", ""),
        ("3D 并行是什么", None, "3D 并行是什么"),
        ("1.5B 模型够用吗", None, "1.5B 模型够用吗"),
        ("2024年的模型", None, "2024年的模型"),
        ("Qwen 的结构", None, "Qwen 的结构"),
        ("什么是 SFT", None, "什么是 SFT"),
    ],
)
def test_number_split(heading: str, number: str | None, title: str) -> None:
    assert number_split(heading) == (number, title)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("SFT和LLM性能: SFT 是监督微调。", ("SFT和LLM性能", "SFT 是监督微调。")),
        ("LoRA 原理：冻结原权重。", ("LoRA 原理", "冻结原权重。")),
        ("- **数据偏差**：模型在大规模数据中…", None),
        ("总的来说，PLM 考虑了前缀: 见下文", None),
        ("见 https://example.com", None),
        ("时间 10:30 开会", None),
        ("https://example.com/a: b", None),
        ("**SFT和LLM性能**: SFT 是监督微调。", ("SFT和LLM性能", "SFT 是监督微调。")),
        ("**SFT：** 监督微调。", ("SFT", "监督微调。")),
        ("A: 这是答案", None),
        ("答：这是答案", None),
    ],
)
def test_line_question_split(line: str, expected: tuple[str, str] | None) -> None:
    assert line_question_split(line) == expected


def test_windows_line_endings_bom_tabs_and_headings_without_space() -> None:
    text = (
        "\ufeff# RAG 面试题\r\n\r\n##Q1: 什么是 RAG？\r\n\tRAG 是检索增强生成。\r\n\r\n\t- 检索\r\n\t- 生成\r\n"
        "## Q2 为什么\r\n减少幻觉。\r\n"
    )
    source = source_parse(source_decode(text.encode("utf-8")), file_name="rag.md")

    assert [(topic.slug, topic.name) for topic in source.topics] == [("rag-面试题", "RAG 面试题")]
    first, second = source.topics[0].questions
    assert (first.number, first.title, first.line, first.body) == (
        "1",
        "什么是 RAG？",
        3,
        "RAG 是检索增强生成。\n\n- 检索\n- 生成",
    )
    assert (second.number, second.title, second.line, second.body) == ("2", "为什么", 8, "减少幻觉。")
    assert source.warnings == []


def test_old_mac_line_endings() -> None:
    source = source_parse(source_decode("# T\r## 1. 问\r答。\r".encode()), file_name="mac.md")
    assert [(q.number, q.title, q.body) for q in source.topics[0].questions] == [("1", "问", "答。")]


def test_document_title_sections_code_fences_and_unanswered_headings() -> None:
    source = parse(
        "前言：这是我整理的笔记。\n\n"
        "# LLM 面试\n"
        "## 一、基础\n"
        "### 1. 什么是 Transformer？\n"
        "Transformer 是一种基于注意力的架构。\n\n"
        "```python\n# 这不是标题\ndef f():\n    return 1\n\n\nf()\n```\n"
        "### 2. 什么是注意力\n注意力计算相似度。\n"
        "## 二、进阶\n"
        "### 1. 什么是 MoE？\nMoE 是混合专家模型。\n"
        "### 3. 没有答案的问题\n"
        "## 三、无编号\n"
        "### 位置编码有哪些\n- 绝对位置编码\n  - 正弦\n- RoPE\n"
        "### 长度外推\nNTK、YaRN。\n"
    )

    assert [(topic.slug, topic.name) for topic in source.topics] == [
        ("基础", "基础"),
        ("进阶", "进阶"),
        ("无编号", "无编号"),
    ]
    basics, advanced, unnumbered = source.topics
    assert [(q.number, q.title) for q in basics.questions] == [("1", "什么是 Transformer？"), ("2", "什么是注意力")]
    assert basics.questions[0].body.endswith("```python\n# 这不是标题\ndef f():\n    return 1\n\n\nf()\n```")
    assert [(q.number, q.title) for q in advanced.questions] == [("1", "什么是 MoE？")]
    assert [(q.number, q.title, q.body) for q in unnumbered.questions] == [
        ("1", "位置编码有哪些", "- 绝对位置编码\n  - 正弦\n- RoPE"),
        ("2", "长度外推", "NTK、YaRN。"),
    ]
    warnings = [str(warning) for warning in source.warnings]
    assert any("document's title" in warning for warning in warnings)
    assert "line 1: text before the first heading belongs to no question; skipped" in warnings
    assert any(warning.startswith("line 21:") and "no answer" in warning for warning in warnings)


def test_headings_of_one_level_without_a_topic_go_to_a_topic_named_after_the_file() -> None:
    source = parse(
        "## 什么是 LoRA\nLoRA 是低秩适配。\n## 什么是 QLoRA\n量化加 LoRA。\n## 5. 什么是 DPO\n直接偏好优化。\n",
        "peft.md",
    )

    assert [(topic.slug, topic.name) for topic in source.topics] == [("peft", "peft")]
    assert [(q.number, q.title) for q in source.topics[0].questions] == [
        ("1", "什么是 LoRA"),
        ("2", "什么是 QLoRA"),
        ("5", "什么是 DPO"),
    ]


def test_numbered_top_level_headings_with_answers_are_questions_not_topics() -> None:
    source = parse("# 1. 什么是 SFT\n监督微调。\n## 1.1 SFT 数据\n指令数据。\n# 2. 什么是 RLHF\n人类反馈。\n", "rl.md")

    assert [topic.slug for topic in source.topics] == ["rl"]
    assert [(q.number, q.title, q.parent_number) for q in source.topics[0].questions] == [
        ("1", "什么是 SFT", None),
        ("1.1", "SFT 数据", "1"),
        ("2", "什么是 RLHF", None),
    ]


def test_line_questions_without_headings_and_continuation_lines() -> None:
    source = parse(
        "LoRA 原理: 冻结原权重，训练低秩矩阵。\n\nQLoRA: 4bit 量化加 LoRA。\n这一行补充上一题。\n\n"
        "P-Tuning：连续提示。\n",
        "lines.txt",
    )

    assert [(q.number, q.title, q.body, q.line) for q in source.topics[0].questions] == [
        ("1", "LoRA 原理", "冻结原权重，训练低秩矩阵。", 1),
        ("2", "QLoRA", "4bit 量化加 LoRA。\n这一行补充上一题。", 3),
        ("3", "P-Tuning", "连续提示。", 6),
    ]


def test_parent_with_an_answer_and_deep_indentation() -> None:
    source = parse(
        "# 笔记\n## 1. 父问题\n父问题有自己的回答。\n### 1.1 子问题\n子问题的回答。\n"
        "### 1.2 子问题二\n    缩进四格的回答。\n        更深的缩进。\n\n        新段落也不是代码。\n"
        "### 无编号的子问题\n回答。\n"
    )

    questions = source.topics[0].questions
    assert [(q.number, q.parent_number, q.group) for q in questions] == [
        ("1", None, ""),
        ("1.1", "1", ""),
        ("1.2", "1", ""),
        ("1.3", "1", ""),
    ]
    assert questions[2].body == "缩进四格的回答。\n更深的缩进。\n\n新段落也不是代码。"


def test_clashing_numbers_in_one_topic_get_a_suffix_and_a_warning() -> None:
    source = parse("# T\n## 1. 甲\n甲。\n## 1. 乙\n乙。\n## 1. 丙\n丙。\n")

    assert [q.number for q in source.topics[0].questions] == ["1", "1-2", "1-3"]
    assert sum("already used" in warning.message for warning in source.warnings) == 2


def test_heading_repeated_three_times_makes_three_parts() -> None:
    source = parse("# 基础\n## 1. 甲\n甲。\n# 基础\n## 1. 乙\n乙。\n# 基础\n## 1. 丙\n丙。\n")

    assert [(topic.slug, topic.name) for topic in source.topics] == [
        ("基础", "基础"),
        ("基础-2", "基础（第二部分）"),
        ("基础-3", "基础（第三部分）"),
    ]


def test_topic_text_before_its_questions_is_its_description() -> None:
    source = parse("# 微调\n本节收集微调相关问题。\n\n## 1. 什么是 SFT\n监督微调。\n")

    assert source.topics[0].description == "本节收集微调相关问题。"
    assert [q.title for q in source.topics[0].questions] == ["什么是 SFT"]


def test_unclosed_code_fence_is_reported() -> None:
    source = parse("# T\n## 1. 代码\n```\nprint(1)\n## 2. 这在代码里\n")

    assert [q.number for q in source.topics[0].questions] == ["1"]
    assert any("never closed" in warning.message for warning in source.warnings)


def test_question_and_answer_pairs_bold_titles_and_front_matter() -> None:
    source = parse(
        "---\ntitle: 面试笔记\ndate: 2024-01-01\n---\n"
        "# 对齐\n"
        "Q: 什么是 RLHF？\nA: 基于人类反馈的强化学习。\n\n它包括三个阶段。\n"
        "Q2：什么是 DPO？\n答：直接偏好优化，\n不需要奖励模型。\n"
        "问：没有答案的问题？\n\n"
        "**PPO**: 近端策略优化。\n**KTO：** 基于前景理论的对齐。\n"
    )

    assert [(topic.slug, topic.line) for topic in source.topics] == [("对齐", 5)]
    assert [(q.number, q.title, q.body, q.line) for q in source.topics[0].questions] == [
        ("1", "什么是 RLHF？", "基于人类反馈的强化学习。\n\n它包括三个阶段。", 6),
        ("2", "什么是 DPO？", "直接偏好优化，\n不需要奖励模型。", 10),
        ("3", "PPO", "近端策略优化。", 15),
        ("4", "KTO", "基于前景理论的对齐。", 16),
    ]
    assert [str(warning) for warning in source.warnings] == [
        "line 1: front matter (lines 1–4) skipped",
        "line 13: question '没有答案的问题？' has no answer; skipped",
    ]


def test_numbered_questions_with_answer_labels_and_bold_labels() -> None:
    source = parse(
        "# 微调\n"
        "1. 什么是 SFT？\n答：监督微调。\n\n"
        "2. 什么是 LoRA？\n\n**答案：** 低秩适配。\n- 冻结原权重\n"
        "**问题：** 什么是 QLoRA？\n**回答：** 量化加 LoRA。\n"
    )

    assert [(q.number, q.title, q.body) for q in source.topics[0].questions] == [
        ("1", "什么是 SFT？", "监督微调。"),
        ("2", "什么是 LoRA？", "低秩适配。\n- 冻结原权重"),
        ("3", "什么是 QLoRA？", "量化加 LoRA。"),
    ]


def test_a_numbered_list_without_answer_labels_is_not_a_question_list() -> None:
    source = parse("# 微调\n本节要点：\n\n1. 数据\n2. 训练\n## 1. 什么是 SFT\n监督微调。\n")

    assert [(q.number, q.title) for q in source.topics[0].questions] == [("1", "什么是 SFT")]
    assert source.topics[0].description == "本节要点：\n\n1. 数据\n2. 训练"


def test_bold_lines_are_questions_only_where_headings_cannot_be() -> None:
    bold_questions = parse("# 大模型面试\n**1. 什么是 SFT？**\nSFT 是监督微调。\n\n**2. 什么是 RLHF？**\n- 奖励模型\n")
    bold_in_answers = parse("## 什么是 LoRA？\n要点：\n\n**1. 低秩**\n\n**2. 冻结**\n## 什么是 QLoRA？\n量化。\n")

    assert [(q.number, q.title, q.body) for q in bold_questions.topics[0].questions] == [
        ("1", "什么是 SFT？", "SFT 是监督微调。"),
        ("2", "什么是 RLHF？", "- 奖励模型"),
    ]
    assert [(q.title, q.body) for q in bold_in_answers.topics[0].questions] == [
        ("什么是 LoRA？", "要点：\n\n**1. 低秩**\n\n**2. 冻结**"),
        ("什么是 QLoRA？", "量化。"),
    ]


@pytest.mark.parametrize(
    "data",
    ["\u4e2d\u6587".encode("gbk"), b"\xff\xfe\x00a", b"ok\x00binary"],
    ids=["gbk", "utf16", "nul"],
)
def test_non_utf8_or_binary_input_is_refused(data: bytes) -> None:
    with pytest.raises(ImportSourceError) as error:
        source_decode(data)
    assert "\n" not in str(error.value)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                ["# 主题", "## 1. 问", "### 1.1 子问", "  ## 2.问", "#", "```", "- 项", "    缩进", "", "\t"]
            ),
            st.sampled_from(
                [
                    "标题: 回答",
                    "问题：答案",
                    "**未闭合",
                    "1) 列表",
                    "Q3 题",
                    "一、节",
                    "\r",
                    "\ufeff",
                    "Q: 问",
                    "A: 答",
                    "**1. 粗体**",
                    "---",
                ]
            ),
            st.text(max_size=30),
        ),
        max_size=40,
    )
)
def test_parser_never_crashes_and_keeps_its_invariants(lines: list[str]) -> None:
    source = source_parse("\n".join(lines), file_name="fuzz.md")

    slugs = [topic.slug for topic in source.topics]
    assert len(slugs) == len(set(slugs))
    for topic in source.topics:
        numbers = [question.number for question in topic.questions]
        assert len(numbers) == len(set(numbers)) and topic.questions
        for question in topic.questions:
            assert question.body.strip() and question.title.strip()
            assert len(question.number) <= 20 and len(question.title) <= 500
            assert question.parent_number is None or question.parent_number in numbers


# --- The import service --------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_of_the_seed_creates_topics_questions_and_published_version_1(seed: ParsedSource) -> None:
    plan = questions_import(source=seed)

    assert plan.count(Action.CREATED) == 34
    topics = list(Topic.objects.order_by("order"))
    assert [(topic.slug, topic.name, topic.name_en) for topic in topics] == [
        (slug, name, "") for slug, name, _line in EXPECTED_TOPICS
    ]
    for topic in topics:
        numbers = list(topic.questions.order_by("order").values_list("number", flat=True))
        assert numbers == EXPECTED_NUMBERS[topic.slug]

    question = Question.objects.get(topic__slug="大模型llms进阶面-2", number="1.2")
    assert (question.title, question.group, question.parent, question.source_file, question.source_line) == (
        "为什么会出现 LLMs 复读机问题？",
        "LLMs 复读机问题",
        None,
        "seed_llm_interview.txt",
        64,
    )
    versions = ReferenceAnswerVersion.objects.all()
    assert versions.count() == 34
    for version in versions:
        assert (version.number, version.status, version.author) == (1, Status.PUBLISHED, None)
        assert version.published_at is not None
        assert version.change_note == f"导入自 seed_llm_interview.txt 第 {version.question.source_line} 行"
    assert not Question.objects.filter(search_document="").exists()
    assert list(question_search_filter(Question.objects.all(), "复读机").values_list("number", flat=True)) == [
        "1.1",
        "1.2",
        "1.3",
    ]


@pytest.mark.django_db
def test_import_links_a_parent_with_an_answer() -> None:
    questions_import(source=parse("# 笔记\n## 1. 父问题\n父回答。\n### 1.1 子问题\n子回答。\n"))

    child = Question.objects.get(number="1.1")
    assert child.parent == Question.objects.get(number="1")


@pytest.mark.django_db
def test_second_import_changes_nothing(seed: ParsedSource) -> None:
    questions_import(source=seed)
    before = list(ReferenceAnswerVersion.objects.values_list("id", "status", "updated_at"))

    plan = questions_import(source=seed)

    assert plan.count(Action.UNCHANGED) == 34 and plan.count(Action.CREATED) == 0
    assert list(ReferenceAnswerVersion.objects.values_list("id", "status", "updated_at")) == before
    assert Topic.objects.count() == 3 and Question.objects.count() == 34


@pytest.mark.django_db
def test_dry_run_plans_without_writing(seed: ParsedSource) -> None:
    plan = questions_import(source=seed, dry_run=True)

    assert plan.count(Action.CREATED) == 34
    assert Topic.objects.count() == Question.objects.count() == ReferenceAnswerVersion.objects.count() == 0


@pytest.mark.django_db
def test_new_topics_are_ordered_after_existing_ones(seed: ParsedSource) -> None:
    questions_import(source=seed)
    questions_import(source=parse("# 部署\n## 1. 什么是 vLLM\n推理引擎。\n"))

    assert list(Topic.objects.order_by("order").values_list("slug", flat=True))[-1] == "部署"
