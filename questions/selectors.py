"""Reads of the question bank. Lists make a constant number of queries."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from questions.models import Question, ReferenceAnswerVersion, Topic
from questions.search import question_search_ranked


def published_versions_prefetch() -> Prefetch:
    return Prefetch(
        "versions",
        queryset=ReferenceAnswerVersion.objects.filter(status=ReferenceAnswerVersion.Status.PUBLISHED),
        to_attr="_published_versions",
    )


def question_published_version(question: Question) -> ReferenceAnswerVersion | None:
    """The published version; uses the prefetched list when the selector loaded one."""
    prefetched = getattr(question, "_published_versions", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return question.versions.filter(status=ReferenceAnswerVersion.Status.PUBLISHED).first()


def topic_list() -> QuerySet[Topic]:
    return Topic.objects.order_by("order", "id")


def question_list(
    *,
    topic: Topic | int | str | None = None,
    search: str | None = None,
    tag: str | None = None,
    difficulty: str | None = None,
    include_archived: bool = False,
) -> QuerySet[Question]:
    queryset = Question.objects.select_related("topic", "parent").prefetch_related(
        "tags", published_versions_prefetch()
    )
    if not include_archived:
        queryset = queryset.filter(status=Question.Status.ACTIVE)
    if topic is not None:
        if isinstance(topic, Topic):
            queryset = queryset.filter(topic=topic)
        elif isinstance(topic, int) or str(topic).isdigit():
            queryset = queryset.filter(topic_id=int(topic))
        else:
            queryset = queryset.filter(topic__slug=topic)
    if tag:
        queryset = queryset.filter(tags__slug=tag)
    if difficulty:
        queryset = queryset.filter(difficulty=difficulty)
    bank_order = ["topic__order", "topic_id", "order", "id"]
    if search and search.strip():
        # Most relevant first (the term in the title), then bank order.
        return question_search_ranked(queryset, search).order_by("-search_rank", *bank_order)
    return queryset.order_by(*bank_order)


def question_get(*, question_id: int, include_archived: bool = True) -> Question | None:
    return question_list(include_archived=include_archived).filter(pk=question_id).first()
