"""Helpers shared by the portal's views."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from interview_platform.errors import ServiceError

PAGE_SIZE = 20


def paginate(request: HttpRequest, items: Any, per_page: int = PAGE_SIZE) -> Page:
    """The requested page; a page number out of range or not a number gives the nearest page."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def service_error_messages(error: ServiceError) -> list[str]:
    """Every message of a ServiceError, field messages after the main one, without repeats."""
    messages = [error.message]
    for field_messages in error.field_errors.values():
        messages.extend(message for message in field_messages if message not in messages)
    return messages


def is_htmx(request: HttpRequest) -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def vary_on_htmx(response: HttpResponse) -> HttpResponse:
    """The same URL answers a page or a fragment: caches must keep them apart."""
    patch_vary_headers(response, ["HX-Request"])
    return response
