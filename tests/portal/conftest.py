"""Fixtures of the portal tests: a small bank with a trainee's graded attempt."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import timezone

from attempts.models import Attempt, Grade
from questions.models import Question, ReferenceAnswerVersion, Tag, Topic
from questions.search import search_document_build
from tests.factories import (
    AttemptFactory,
    GradeFactory,
    PublishedQuestionFactory,
    TagFactory,
    TopicFactory,
)


@dataclass
class Bank:
    topic: Topic
    other_topic: Topic
    sft: Question
    lora: Question
    hard: Question
    tag: Tag


@pytest.fixture
def bank(db: None) -> Bank:
    topic = TopicFactory(slug="微调面", name="大模型微调面", name_en="Fine-tuning")
    other_topic = TopicFactory(slug="进阶面", name="大模型进阶面", name_en="Advanced")
    tag = TagFactory(slug="peft", name="PEFT")
    sft = PublishedQuestionFactory(topic=topic, title="什么是监督微调（SFT）？", title_en="What is SFT?")
    lora = PublishedQuestionFactory(topic=topic, title="LoRA 的原理是什么？", title_en="How does LoRA work?")
    lora.tags.add(tag)
    hard = PublishedQuestionFactory(
        topic=other_topic, title="大模型为什么会出现复读机问题？", difficulty=Question.Difficulty.HARD
    )
    for question in (sft, lora, hard):
        question.search_document = search_document_build(parts=[question.title, question.title_en])
        question.save(update_fields=["search_document"])
    return Bank(topic=topic, other_topic=other_topic, sft=sft, lora=lora, hard=hard, tag=tag)


def graded_attempt(user: object, question: Question, score: int = 82, **grade_fields: object) -> Attempt:
    attempt = AttemptFactory(
        user=user,
        question=question,
        status=Attempt.Status.GRADED,
        answer="SFT 是监督微调，用标注的指令数据继续训练预训练模型。",
        graded_at=timezone.now(),
    )
    fields = {
        "score": score,
        "key_points": [
            {"point": "SFT 是监督微调（Supervised Fine-Tuning）", "covered": True, "evidence": "SFT 是监督微调"},
            {"point": "在预训练模型的基础上继续训练", "covered": False, "evidence": ""},
        ],
        "misconceptions": [],
        "feedback": "回答覆盖了定义，但没有说明数据来源。",
        "grader": "offline",
        **grade_fields,
    }
    GradeFactory(attempt=attempt, **fields)
    return attempt


def publish_new_version(question: Question, body: str) -> ReferenceAnswerVersion:
    """Supersede the published version with a new one (what the curation services do)."""
    current = question.versions.get(status=ReferenceAnswerVersion.Status.PUBLISHED)
    current.status = ReferenceAnswerVersion.Status.SUPERSEDED
    current.save(update_fields=["status"])
    return ReferenceAnswerVersion.objects.create(
        question=question,
        number=current.number + 1,
        body=body,
        key_points=current.key_points,
        misconceptions=current.misconceptions,
        status=ReferenceAnswerVersion.Status.PUBLISHED,
        published_at=timezone.now(),
    )


def regrade(attempt: Attempt, version: ReferenceAnswerVersion, score: int, reason: str) -> Grade:
    Grade.objects.filter(attempt=attempt, is_current=True).update(is_current=False)
    return GradeFactory(attempt=attempt, reference_version=version, score=score, reason=reason, is_current=True)
