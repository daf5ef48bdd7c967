"""The content security policy, and pages that satisfy it (no inline script of any kind)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from tests.factories import AttemptFactory, GradeFactory, PublishedQuestionFactory

# <script type="..."> values that browsers do not execute (data blocks are allowed by CSP).
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json", "text/template"}


class InlineScriptFinder(HTMLParser):
    """Collects what a ``script-src 'self'`` policy would block on a page."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> event handler attribute")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"<{tag} {name}='javascript:…'>")
            if name.startswith("hx-on"):
                self.problems.append(f"<{tag} {name}=…> htmx inline handler (needs eval)")
        if tag == "script":
            script_type = (attributes.get("type") or "").lower()
            self._in_inline_script = not attributes.get("src") and script_type not in DATA_SCRIPT_TYPES

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script and data.strip():
            self.problems.append(f"inline <script>: {data.strip()[:60]!r}")


def inline_script_problems(html: str) -> list[str]:
    finder = InlineScriptFinder()
    finder.feed(html)
    return finder.problems


def policy(response: Any) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in header.split("; ")}


@pytest.mark.django_db
def test_every_response_carries_the_policy(client: Client) -> None:
    directives = policy(client.get("/accounts/login/"))
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'"
    assert "unsafe-eval" not in str(directives)
    assert "Content-Security-Policy" in client.get("/api/v1/topics/")  # JSON too (a 401 here)


@pytest.mark.django_db
def test_report_only_and_a_custom_policy(settings: Any) -> None:
    settings.CSP_REPORT_ONLY = True
    settings.CSP_REPORT_URI = "/csp-reports/"
    response = Client().get("/accounts/login/")
    assert "Content-Security-Policy" not in response
    assert response["Content-Security-Policy-Report-Only"].endswith("; report-uri /csp-reports/")
    settings.CSP_REPORT_ONLY = False
    settings.CSP_POLICY = "default-src 'none'"
    assert Client().get("/accounts/login/")["Content-Security-Policy"] == "default-src 'none'; report-uri /csp-reports/"


def test_the_finder_finds_what_the_policy_blocks() -> None:
    page = (
        '<script>alert(1)</script><script src="/static/a.js"></script>'
        '<script type="application/json">{"a": 1}</script>'
        '<button onclick="go()">x</button><a href="javascript:go()">y</a><div hx-on:click="go()"></div>'
    )
    problems = inline_script_problems(page)
    assert len(problems) == 4
    assert problems[0].startswith("inline <script>")


@pytest.mark.django_db
def test_portal_pages_have_no_inline_script(trainee: Any, login: Any) -> None:
    question = PublishedQuestionFactory()
    attempt = AttemptFactory(user=trainee, question=question, status="graded")
    GradeFactory(attempt=attempt)
    client = login(trainee)
    pages = ["/", "/questions/", f"/questions/{question.pk}/", f"/attempts/{attempt.pk}/", "/history/", "/reviews/"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        assert not inline_script_problems(response.content.decode()), path
    assert not inline_script_problems(Client().get("/accounts/login/").content.decode())


@pytest.mark.django_db
def test_the_api_documentation_page_has_no_inline_script(trainee: Any, login: Any) -> None:
    response = login(trainee).get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert not inline_script_problems(page)


@pytest.mark.django_db
def test_curation_admin_pages_have_no_inline_script(admin_user: Any, login: Any) -> None:
    question = PublishedQuestionFactory()
    client = login(admin_user)
    for path in ["/admin/", "/admin/questions/question/", f"/admin/questions/question/{question.pk}/change/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert not inline_script_problems(response.content.decode()), path
