"""The portal's template filters: sanitised Markdown, grader labels, the forecast chart."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import translation

from attempts.models import Grade
from portal.templatetags.portal import forecast_chart, grader_label, markdown_filter, score_class
from tests.factories import UserFactory


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        "[点我](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        '<iframe src="https://example.com"></iframe>',
        '<p style="position:fixed" onclick="alert(1)">x</p>',
        "<svg><script>alert(1)</script></svg>",
        '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    ],
)
def test_markdown_removes_anything_that_could_run(source: str) -> None:
    html = str(markdown_filter(source))
    lowered = html.lower()
    for forbidden in ("<script", "onerror", "onclick", "javascript:", "<iframe", "style=", "<svg", "<img"):
        assert forbidden not in lowered, (source, html)


def test_markdown_keeps_formatting_and_makes_links_safe() -> None:
    html = str(
        markdown_filter(
            "**监督微调** 与 `LoRA`\n\n- 一\n- 二\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[论文](https://arxiv.org)"
        )
    )
    assert "<strong>监督微调</strong>" in html and "<code>LoRA</code>" in html
    assert "<li>一</li>" in html and "<table>" in html
    assert 'href="https://arxiv.org"' in html and 'rel="noopener noreferrer nofollow"' in html
    assert str(markdown_filter(None)) == ""


def test_score_class_bands() -> None:
    assert [score_class(value) for value in (None, 0, 59, 60, 84, 85, 100)] == [
        "none",
        "weak",
        "weak",
        "fair",
        "fair",
        "good",
        "good",
    ]


@pytest.mark.django_db
def test_grader_label_names_offline_llm_and_override() -> None:
    with translation.override("en"):
        assert grader_label(Grade(grader="offline")).startswith("Offline grader")
        assert grader_label(Grade(grader="openai-compatible", model="qwen2.5-72b")) == (
            "openai-compatible · qwen2.5-72b"
        )
        expert = UserFactory(username="wang_expert")
        assert grader_label(Grade(grader="expert", kind="override", created_by=expert)) == (
            "Expert override by wang_expert"
        )
    with translation.override("zh-hans"):
        assert grader_label(Grade(grader="offline")).startswith("离线评分器")


def test_forecast_chart_draws_one_bar_per_day() -> None:
    svg = str(forecast_chart([(date(2026, 3, day), count) for day, count in ((1, 3), (2, 0), (3, 1))]))
    assert svg.startswith("<svg") and svg.count("<rect") == 3
    assert "2026-03-01: 3" in svg and "chart-bar-today" in svg
    assert str(forecast_chart([])) == ""
