"""factory_boy factories for every model, in one place."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import Team, TeamMembership
from attempts.models import Assessment, AssessmentQuestion, Attempt, Grade, Invitation, ReviewState
from questions.models import Erratum, Question, ReferenceAnswerVersion, Tag, Topic

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create:
            for role in extracted or ["trainee"]:
                self.groups.add(Group.objects.get_or_create(name=role)[0])
            self.save()


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"topic-{n}")
    name = factory.Sequence(lambda n: f"主题 {n}")
    name_en = factory.Sequence(lambda n: f"Topic {n}")
    order = factory.Sequence(lambda n: n)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tag-{n}")
    name = factory.Sequence(lambda n: f"标签{n}")


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    topic = factory.SubFactory(TopicFactory)
    number = factory.Sequence(lambda n: str(n + 1))
    order = factory.Sequence(lambda n: n)
    title = factory.Sequence(lambda n: f"什么是监督微调（SFT）？{n}")
    title_en = "What is supervised fine-tuning (SFT)?"


class ReferenceAnswerVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReferenceAnswerVersion

    question = factory.SubFactory(QuestionFactory)
    number = factory.Sequence(lambda n: n + 1)
    body = "SFT（Supervised Fine-Tuning，监督微调）是在预训练模型上用标注的指令-回答对继续训练。"
    key_points = factory.LazyFunction(
        lambda: [
            "SFT 是监督微调（Supervised Fine-Tuning）",
            "使用人工标注的指令-回答数据",
            "在预训练模型的基础上继续训练",
        ]
    )
    misconceptions = factory.LazyFunction(lambda: ["SFT 是稀疏特征训练（Sparse Feature Training）"])
    status = ReferenceAnswerVersion.Status.DRAFT


class PublishedQuestionFactory(QuestionFactory):
    """A question with version 1 published."""

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def published(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            ReferenceAnswerVersionFactory(
                question=self, number=1, status=ReferenceAnswerVersion.Status.PUBLISHED, published_at=timezone.now()
            )


class ErratumFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Erratum

    question = factory.SubFactory(PublishedQuestionFactory)
    quote = "SFT（Sparse Feature Training）"
    explanation = "SFT 是 Supervised Fine-Tuning（监督微调）。"
    reporter = factory.SubFactory(UserFactory)


class AttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attempt

    user = factory.SubFactory(UserFactory)
    question = factory.SubFactory(PublishedQuestionFactory)
    answer = "SFT 是监督微调，用标注的指令数据在预训练模型上继续训练。"
    reference_version = factory.LazyAttribute(lambda o: o.question.versions.get(status="published"))
    status = Attempt.Status.QUEUED
    mode = Attempt.Mode.PRACTICE


class GradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Grade

    attempt = factory.SubFactory(AttemptFactory, status=Attempt.Status.GRADED)
    reference_version = factory.LazyAttribute(lambda o: o.attempt.reference_version)
    score = 80
    is_current = True
    grader = "offline"
    feedback = "回答覆盖了主要要点。"


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class TeamMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamMembership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)


class AssessmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assessment

    title = factory.Sequence(lambda n: f"LLM 工程师评估 {n}")
    owner = factory.SubFactory(UserFactory, roles=["hr"])
    time_limit_minutes = 30
    pass_score = 60


class AssessmentQuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AssessmentQuestion

    assessment = factory.SubFactory(AssessmentFactory)
    question = factory.SubFactory(PublishedQuestionFactory)
    position = factory.Sequence(lambda n: n + 1)


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    assessment = factory.SubFactory(AssessmentFactory)
    candidate_name = "张三"
    candidate_email = factory.Sequence(lambda n: f"candidate{n}@example.com")
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    token_prefix = factory.Sequence(lambda n: f"{n:08x}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=7))


class ReviewStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewState

    user = factory.SubFactory(UserFactory)
    question = factory.SubFactory(PublishedQuestionFactory)
    due = factory.LazyFunction(timezone.now)
