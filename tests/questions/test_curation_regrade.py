"""Regrading after a correction: dry run through the Celery task, progress, old → new scores, apply."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from attempts.graders import GraderError
from attempts.models import Attempt, Grade, RegradeRun
from interview_platform.celery import app as celery_app
from interview_platform.errors import ServiceError
from questions import regrade, services
from questions.models import Question, ReferenceAnswerVersion
from questions.tasks import regrade_attempt
from tests.factories import GradeFactory, PublishedQuestionFactory

pytestmark = pytest.mark.django_db

ANSWERS = [
    "SFT 是监督微调，用标注的指令-回答对在预训练模型上继续训练。",
    "SFT 是稀疏特征训练，用稀疏特征降低计算量。",
    "不知道。",
]


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Tasks sent with ``delay`` run at once in this process, through Celery's own machinery."""
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = True, True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


def _corrected_question(expert, reviewer, *, graded: int = 3) -> tuple[Question, list[Attempt]]:
    """A question whose v1 graded some attempts, then a corrected v2 published."""
    question = PublishedQuestionFactory()
    attempts = [
        GradeFactory(attempt__question=question, attempt__answer=answer, score=70).attempt
        for answer in ANSWERS[:graded]
    ]
    version = services.reference_version_create(
        question=question,
        author=expert,
        body="SFT（Supervised Fine-Tuning，监督微调）：在预训练模型上用人工标注的指令-回答对做有监督训练。",
        key_points=["SFT 是监督微调（Supervised Fine-Tuning）", "使用标注的指令-回答对", "在预训练模型之上训练"],
        misconceptions=["SFT 是稀疏特征训练（Sparse Feature Training）"],
        change_note="更正 SFT 的定义",
        base_version=1,
    )
    services.reference_version_submit(version=version, actor=expert)
    approved = services.reference_version_approve(version=version, reviewer=reviewer)
    assert approved.superseded_attempt_count == graded
    return question, attempts


def _start(question: Question, actor, django_capture_on_commit_callbacks) -> RegradeRun:
    with django_capture_on_commit_callbacks(execute=True):
        run = regrade.regrade_run_start(question=question, actor=actor)
    run.refresh_from_db()
    return run


def test_overview_counts_attempts_graded_against_superseded_versions(expert, reviewer):
    question, _ = _corrected_question(expert, reviewer)
    GradeFactory(attempt__question=question, reference_version=question.versions.get(number=2))
    overview = regrade.regrade_overview(question=question)
    assert overview.affected == 3 and overview.published.number == 2 and overview.runs == []


def test_dry_run_writes_non_current_grades_and_lists_score_changes(
    expert, reviewer, eager_celery, django_capture_on_commit_callbacks
):
    question, attempts = _corrected_question(expert, reviewer)
    run = _start(question, expert, django_capture_on_commit_callbacks)
    assert (run.status, run.total, run.done, run.failed) == (RegradeRun.Status.READY, 3, 3, 0)
    assert run.target_version.number == 2 and run.finished_at is not None
    for attempt in attempts:
        current = Grade.objects.get(attempt=attempt, is_current=True)
        assert (current.score, current.reference_version.number, current.regrade_run_id) == (70, 1, None)
        dry = Grade.objects.get(attempt=attempt, regrade_run=run)
        assert not dry.is_current and dry.reference_version.number == 2
    rows = {row.attempt.pk: row for row in regrade.regrade_run_results(run=run)}
    assert set(rows) == {attempt.pk for attempt in attempts}
    assert all(row.old_score == 70 for row in rows.values())
    right, wrong = rows[attempts[0].pk], rows[attempts[1].pk]
    assert right.new_score > wrong.new_score  # the corrected rubric rewards the right definition
    assert wrong.delta == wrong.new_score - 70
    assert regrade.regrade_overview(question=question).affected == 3  # nothing current changed yet


def test_redelivered_task_does_not_grade_or_count_twice(
    expert, reviewer, eager_celery, django_capture_on_commit_callbacks
):
    question, attempts = _corrected_question(expert, reviewer)
    run = _start(question, expert, django_capture_on_commit_callbacks)
    assert regrade_attempt.apply(args=[run.pk, attempts[0].pk]).get() == "skipped"  # run is no longer running
    RegradeRun.objects.filter(pk=run.pk).update(status=RegradeRun.Status.RUNNING)
    assert regrade_attempt.apply(args=[run.pk, attempts[0].pk]).get() == "graded"  # found, not redone
    assert Grade.objects.filter(regrade_run=run, attempt=attempts[0]).count() == 1
    run.refresh_from_db()
    assert (run.done, run.status) == (3, RegradeRun.Status.READY)


def test_apply_makes_new_grades_current_and_keeps_history(
    expert, reviewer, eager_celery, django_capture_on_commit_callbacks
):
    question, attempts = _corrected_question(expert, reviewer)
    run = _start(question, expert, django_capture_on_commit_callbacks)
    changed = regrade.regrade_run_apply(run=run, actor=expert)
    assert changed == 3
    run.refresh_from_db()
    assert (run.status, run.applied_by) == (RegradeRun.Status.APPLIED, expert)
    for attempt in attempts:
        grades = list(Grade.objects.filter(attempt=attempt).order_by("id"))
        assert len(grades) == 2  # the old grade is history, not deleted
        assert [g.is_current for g in grades] == [False, True]
        assert grades[1].reason == "参考答案更新至 v2 后重新评分"
        assert grades[1].reference_version.number == 2
    assert regrade.regrade_overview(question=question).affected == 0
    rows = regrade.regrade_run_results(run=run)
    assert {row.old_score for row in rows} == {70} and all(row.new_grade.is_current for row in rows)
    with pytest.raises(ServiceError) as caught:
        regrade.regrade_run_apply(run=run, actor=expert)
    assert caught.value.code == "invalid_state"


def test_apply_is_refused_once_a_newer_version_is_published(
    expert, reviewer, eager_celery, django_capture_on_commit_callbacks
):
    question, _ = _corrected_question(expert, reviewer)
    run = _start(question, expert, django_capture_on_commit_callbacks)
    v3 = services.reference_version_revert(question=question, to_version=2, author=expert, change_note="再修订")
    services.reference_version_submit(version=v3, actor=expert)
    services.reference_version_approve(version=v3, reviewer=reviewer)
    with pytest.raises(ServiceError) as caught:
        regrade.regrade_run_apply(run=run, actor=expert)
    assert caught.value.code == "stale_version"
    assert not Grade.objects.filter(regrade_run=run, is_current=True).exists()


def test_start_is_refused_without_work_while_running_or_for_trainees(
    expert, reviewer, trainee, django_capture_on_commit_callbacks
):
    question, _ = _corrected_question(expert, reviewer)
    with pytest.raises(ServiceError) as caught:
        regrade.regrade_run_start(question=question, actor=trainee)
    assert caught.value.status_code == 403
    with django_capture_on_commit_callbacks(execute=False):
        run = regrade.regrade_run_start(question=question, actor=expert)
    with pytest.raises(ServiceError) as caught:
        regrade.regrade_run_start(question=question, actor=expert)
    assert caught.value.status_code == 409
    regrade.regrade_run_cancel(run=run, actor=expert)
    assert regrade_attempt.apply(args=[run.pk, 1]).get() == "skipped"  # a cancelled run grades nothing
    untouched = PublishedQuestionFactory()
    with pytest.raises(ServiceError) as caught:
        regrade.regrade_run_start(question=untouched, actor=expert)
    assert caught.value.code == "nothing_to_do"


def test_permanent_grader_failure_is_recorded(
    expert, reviewer, eager_celery, django_capture_on_commit_callbacks, monkeypatch
):
    question, attempts = _corrected_question(expert, reviewer, graded=2)
    import attempts.services as attempt_services

    real = attempt_services.grade_attempt_against

    def flaky(*, attempt, **kwargs):
        if attempt.pk == attempts[1].pk:
            raise GraderError("the model refused the request", permanent=True)
        return real(attempt=attempt, **kwargs)

    monkeypatch.setattr(attempt_services, "grade_attempt_against", flaky)
    run = _start(question, expert, django_capture_on_commit_callbacks)
    assert (run.status, run.done, run.failed) == (RegradeRun.Status.READY, 1, 1)
    assert "the model refused the request" in run.error_message
    assert regrade.regrade_run_apply(run=run, actor=expert) == 1


# --- In the admin ---------------------------------------------------------------------------------


def test_admin_shows_affected_count_runs_dry_run_and_applies(
    login, expert, reviewer, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.LANGUAGE_CODE = "en"
    question, _ = _corrected_question(expert, reviewer)
    client = login(expert)
    page = client.get(f"/admin/questions/question/{question.pk}/change/").content.decode()
    assert "3 attempts are graded against superseded versions." in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/questions/question/{question.pk}/regrade/")
    run = RegradeRun.objects.get(question=question)
    assert response.status_code == 302 and response["Location"].endswith(f"/regrade/{run.pk}/")
    page = client.get(response["Location"]).content.decode()
    assert "3/3" in page and 'id="regrade-results"' in page and "Apply: make the new grades current" in page
    assert 'http-equiv="refresh"' not in page  # finished: no more refreshing
    response = client.post(f"/admin/questions/question/{question.pk}/regrade/{run.pk}/apply/", follow=True)
    assert "3 new grades are now current." in response.content.decode()
    assert Grade.objects.filter(regrade_run=run, is_current=True).count() == 3


def test_admin_progress_page_refreshes_while_running(login, expert, reviewer, django_capture_on_commit_callbacks):
    question, _ = _corrected_question(expert, reviewer)
    with django_capture_on_commit_callbacks(execute=False):  # no worker picks the tasks up
        run = regrade.regrade_run_start(question=question, actor=expert)
    page = login(expert).get(f"/admin/questions/question/{question.pk}/regrade/{run.pk}/").content.decode()
    assert 'http-equiv="refresh"' in page and "0/3" in page
    assert ReferenceAnswerVersion.objects.filter(question=question, status="published").count() == 1


def test_admin_resends_a_running_regrade_then_cancels_it_once(
    login, expert, reviewer, settings, django_capture_on_commit_callbacks
):
    settings.LANGUAGE_CODE = "en"
    question, _ = _corrected_question(expert, reviewer)
    with django_capture_on_commit_callbacks(execute=False):  # the first messages are "lost"
        run = regrade.regrade_run_start(question=question, actor=expert)
    client = login(expert)
    base = f"/admin/questions/question/{question.pk}/regrade/{run.pk}"
    with django_capture_on_commit_callbacks(execute=False) as sent:
        response = client.post(f"{base}/resume/", follow=True)
    assert "3 attempts sent to grading again." in response.content.decode()
    assert len(sent) == 1  # one on-commit send of the pending attempts
    response = client.post(f"{base}/cancel/", follow=True)
    assert "Regrade cancelled" in response.content.decode()
    run.refresh_from_db()
    assert run.status == RegradeRun.Status.CANCELLED
    response = client.post(f"{base}/cancel/", follow=True)  # refused, readable, nothing changes
    assert "it cannot be cancelled" in response.content.decode()
    assert not Grade.objects.filter(regrade_run=run, is_current=True).exists()


@pytest.mark.django_db(transaction=True)
def test_dry_run_and_apply_with_a_real_worker(make_user):
    """The tasks go through the broker to a real Celery worker consuming the grading queue."""
    from tests.support.worker import celery_worker_running, wait_until

    expert = make_user("expert_w", roles=("expert",))
    reviewer = make_user("reviewer_w", roles=("reviewer",))
    question, attempts = _corrected_question(expert, reviewer)
    with celery_worker_running():
        run = regrade.regrade_run_start(question=question, actor=expert)  # tasks sent on commit
        wait_until(
            lambda: RegradeRun.objects.filter(pk=run.pk, status=RegradeRun.Status.READY).exists(),
            timeout=60,  # the machine may be busy; a real worker loads jieba and grades three answers
            what="the dry run to finish",
        )
    run.refresh_from_db()
    assert (run.done, run.failed, run.total) == (3, 0, 3)
    assert Grade.objects.filter(regrade_run=run, is_current=False).count() == 3
    assert regrade.regrade_run_apply(run=run, actor=expert) == 3
    assert {g.reference_version.number for g in Grade.objects.filter(attempt__in=attempts, is_current=True)} == {2}


def test_a_run_whose_tasks_were_lost_is_sent_again(expert, reviewer, eager_celery, django_capture_on_commit_callbacks):
    question, attempts = _corrected_question(expert, reviewer)
    with django_capture_on_commit_callbacks(execute=False):  # the messages never reach a worker
        run = regrade.regrade_run_start(question=question, actor=expert)
    regrade_attempt.apply(args=[run.pk, attempts[0].pk])  # one of them did
    with django_capture_on_commit_callbacks(execute=True):
        sent = regrade.regrade_run_resume(run=run, actor=expert)
    assert sent == 2
    run.refresh_from_db()
    assert (run.status, run.done, run.total) == (RegradeRun.Status.READY, 3, 3)
    assert Grade.objects.filter(regrade_run=run).count() == 3
    with pytest.raises(ServiceError):
        regrade.regrade_run_resume(run=run, actor=expert)


def test_an_unreachable_broker_is_noted_on_the_run_not_raised(
    expert, reviewer, django_capture_on_commit_callbacks, monkeypatch
):
    question, _ = _corrected_question(expert, reviewer)

    def broker_down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(regrade_attempt, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        run = regrade.regrade_run_start(question=question, actor=expert)
    run.refresh_from_db()
    assert run.status == RegradeRun.Status.RUNNING and "Could not reach the task queue" in run.error_message
