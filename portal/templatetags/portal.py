"""Template filters of the portal: sanitised Markdown, score styling, small inline SVG charts.

``markdown`` is the only way user or curator text reaches a page as HTML: Markdown is
rendered first, then nh3 (an allow-list sanitiser) removes everything not on the list —
scripts, event handlers, ``javascript:`` links, styles, iframes. Raw HTML in the source is
not trusted, whoever wrote it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import markdown as markdown_lib
import nh3
from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts.roles import is_team_lead

register = template.Library()

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "a", "sup", "sub", "span",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "code": {"class"}, "span": {"class"}}
MARKDOWN_EXTENSIONS = ["fenced_code", "tables", "sane_lists", "nl2br"]


def markdown_to_safe_html(text: str) -> SafeString:
    html = markdown_lib.markdown(text or "", extensions=MARKDOWN_EXTENSIONS, output_format="html")
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(cleaned)  # noqa: S308 - sanitised by nh3 just above


@register.filter(name="markdown")
def markdown_filter(text: str | None) -> SafeString:
    """Markdown → sanitised HTML."""
    return markdown_to_safe_html(text or "")


@register.filter
def score_class(score: float | int | None) -> str:
    """A CSS modifier for a score: good (≥ 85), fair (≥ 60), weak (< 60), none."""
    if score is None:
        return "none"
    if score >= 85:
        return "good"
    if score >= 60:
        return "fair"
    return "weak"


@register.filter
def grader_label(grade: Any) -> str:
    """Who graded: the offline grader says so; an LLM names its model; an override names the expert."""
    if grade is None:
        return ""
    if getattr(grade, "kind", "") == "override":
        who = grade.created_by.get_username() if getattr(grade, "created_by", None) else _("an expert")
        return _("Expert override by %(who)s") % {"who": who}
    name = getattr(grade, "grader", "") or ""
    if name == "offline":
        return _("Offline grader (no LLM: key-point matching)")
    model = getattr(grade, "model", "") or ""
    return f"{name} · {model}" if model else name


@register.simple_tag
def forecast_chart(forecast: list[tuple[date, int]]) -> SafeString:
    """Vertical bars: reviews falling due on each of the next days."""
    if not forecast:
        return mark_safe("")
    peak = max(count for _day, count in forecast) or 1
    column, height = 24, 90
    bars = format_html_join(
        "",
        '<g transform="translate({},0)"><rect class="chart-bar{}" x="3" y="{}" width="18" height="{}" rx="3">'
        "<title>{}: {}</title></rect>"
        '<text class="chart-count" x="12" y="{}" text-anchor="middle">{}</text>'
        '<text class="chart-day" x="12" y="{}" text-anchor="middle">{}</text></g>',
        (
            (
                index * column,
                " chart-bar-today" if index == 0 else "",
                height - round(70 * count / peak),
                round(70 * count / peak),
                day.isoformat(),
                count,
                height - round(70 * count / peak) - 4,
                count if count else "",
                height + 14,
                f"{day.month}/{day.day}",
            )
            for index, (day, count) in enumerate(forecast)
        ),
    )
    return format_html(
        '<svg class="chart chart-forecast" viewBox="0 0 {w} {h}" role="img" aria-label="{label}">{bars}</svg>',
        w=column * len(forecast),
        h=height + 20,
        label=_("Reviews due per day"),
        bars=bars,
    )


@register.simple_tag(takes_context=True)
def query_replace(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters replaced (for pagination links)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag
def user_is_team_lead(user: Any) -> bool:
    """Whether to show the team page in the navigation (the view checks again)."""
    return is_team_lead(user)


@register.filter
def topic_name(topic: Any) -> str:
    """The topic's name in the active language (English falls back to Chinese)."""
    if get_language() == "en" and getattr(topic, "name_en", ""):
        return topic.name_en
    return topic.name


@register.filter
def question_title(question: Any) -> str:
    """The question's title in the active language (English falls back to Chinese)."""
    if get_language() == "en" and getattr(question, "title_en", ""):
        return question.title_en
    return question.title
