"""Serializer fields shared by the API."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    default_error_messages = {"invalid": _("Not a valid string.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# Database ids fit in a signed 64-bit integer; bigger numbers are refused as bad input
# instead of overflowing the database driver.
MAX_ID = 10**18 - 1


def id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def id_filter(**kwargs: Any) -> Any:
    import django_filters

    return django_filters.NumberFilter(min_value=1, max_value=MAX_ID, **kwargs)
