"""Error reports: reporting, triage (fixed by version N, rejected with a reason), the reporter's view."""

from __future__ import annotations

import pytest

from interview_platform.errors import ServiceError
from questions import services
from questions.models import Erratum, ReferenceAnswerVersion
from tests.factories import PublishedQuestionFactory, ReferenceAnswerVersionFactory

pytestmark = pytest.mark.django_db


def _report(question, reporter, **overrides):
    fields = {
        "question": question,
        "reporter": reporter,
        "quote": "SFT（Supervised Fine-Tuning，监督微调）",
        "explanation": "举例说明：这里的定义应当补充数据来源。",
    }
    fields.update(overrides)
    return services.erratum_report(**fields)


def test_report_defaults_to_published_version_and_flags_literal_quote(trainee):
    question = PublishedQuestionFactory()
    erratum = _report(question, trainee)
    assert erratum.version == question.versions.get(status="published")
    assert erratum.status == Erratum.Status.OPEN and erratum.severity == Erratum.Severity.MAJOR
    assert services.erratum_quote_found(erratum) is True
    paraphrase = _report(question, trainee, quote="它说 SFT 是稀疏特征训练")
    assert services.erratum_quote_found(paraphrase) is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"quote": " "}, "quote"),
        ({"quote": "长" * 2001}, "quote"),
        ({"explanation": "错"}, "explanation"),
        ({"severity": "fatal"}, "severity"),
    ],
)
def test_bad_reports_are_refused(trainee, overrides, field):
    with pytest.raises(ServiceError) as caught:
        _report(PublishedQuestionFactory(), trainee, **overrides)
    assert field in caught.value.field_errors
    assert not Erratum.objects.exists()


def test_duplicate_open_report_is_refused(trainee):
    question = PublishedQuestionFactory()
    _report(question, trainee)
    with pytest.raises(ServiceError) as caught:
        _report(question, trainee)
    assert caught.value.code == "duplicate"


def test_fixed_requires_a_newer_submitted_version_of_the_same_question(trainee, expert):
    question = PublishedQuestionFactory()
    erratum = _report(question, trainee)
    ReferenceAnswerVersionFactory(question=question, number=2, status=ReferenceAnswerVersion.Status.DRAFT)
    other = ReferenceAnswerVersionFactory(number=5, status="in_review")
    for fixed_in in (None, 1, 2, other, 7):
        with pytest.raises(ServiceError) as caught:
            services.erratum_resolve(erratum=erratum, actor=expert, status="fixed", fixed_in=fixed_in)
        assert "fixed_in" in caught.value.field_errors, fixed_in
    ReferenceAnswerVersionFactory(question=question, number=3, status=ReferenceAnswerVersion.Status.IN_REVIEW)
    fixed = services.erratum_resolve(erratum=erratum, actor=expert, status="fixed", fixed_in=3, note="v3 更正")
    assert (fixed.status, fixed.fixed_in.number, fixed.resolved_by) == ("fixed", 3, expert)
    with pytest.raises(ServiceError) as caught:
        services.erratum_resolve(erratum=erratum, actor=expert, status="rejected", note="x")
    assert caught.value.code == "already_resolved"


def test_reject_requires_a_reason_and_reporter_sees_outcome(trainee, other_trainee, expert):
    question = PublishedQuestionFactory()
    erratum = _report(question, trainee)
    _report(question, other_trainee)
    with pytest.raises(ServiceError) as caught:
        services.erratum_resolve(erratum=erratum, actor=expert, status="rejected")
    assert "note" in caught.value.field_errors
    with pytest.raises(ServiceError) as caught:
        services.erratum_resolve(erratum=erratum, actor=trainee, status="rejected", note="不是错误")
    assert caught.value.status_code == 403
    services.erratum_resolve(erratum=erratum, actor=expert, status="rejected", note="原文是对的")
    mine = list(services.erratum_list_for_reporter(user=trainee))
    assert [(e.status, e.resolution_note) for e in mine] == [("rejected", "原文是对的")]
