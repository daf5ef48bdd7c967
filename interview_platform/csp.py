"""Content Security Policy: a small middleware (Django 5.2 has none built in).

The policy allows scripts only from the site's own static files: no inline ``<script>``,
no ``on…=`` handler attributes, no ``eval`` (htmx runs with ``allowEval: false``), no
third-party origin. A cross-site-scripting hole in a template therefore cannot run code.

Styles are the one relaxation: ``style-src 'self' 'unsafe-inline'``. The portal sets
progress-bar widths with ``style`` attributes, the curation admin and Django's admin use
small ``<style>`` blocks; CSS cannot run script, and autoescaping keeps user text out of
attribute values, so the gain of forbidding them would not repay a rewrite of those pages.

``CSP_POLICY`` replaces the whole policy; ``CSP_REPORT_ONLY`` sends it as
``Content-Security-Policy-Report-Only`` (trial a change without breaking pages);
``CSP_REPORT_URI`` adds a ``report-uri`` directive. A view may set its own header, which is
then left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

DEFAULT_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def csp_header_value() -> str:
    policy = settings.CSP_POLICY or "; ".join(f"{name} {value}" for name, value in DEFAULT_POLICY.items())
    if settings.CSP_REPORT_URI:
        policy = f"{policy}; report-uri {settings.CSP_REPORT_URI}"
    return policy


def csp_header_name() -> str:
    return "Content-Security-Policy-Report-Only" if settings.CSP_REPORT_ONLY else "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.header_name = csp_header_name()
        self.header_value = csp_header_value()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response and "Content-Security-Policy-Report-Only" not in response:
            response[self.header_name] = self.header_value
        return response
