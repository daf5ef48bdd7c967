"""The training portal's pages (sign-in pages come from django.contrib.auth under /accounts/)."""

from django.urls import path

from portal.views import practice, progress, take

app_name = "portal"

urlpatterns = [
    path("", practice.home, name="home"),
    path("questions/", practice.bank, name="bank"),
    path("questions/<int:question_id>/", practice.question_detail, name="question"),
    path("questions/<int:question_id>/answer/", practice.question_answer, name="question_answer"),
    path("questions/<int:question_id>/report/", practice.question_report, name="question_report"),
    path("attempts/<int:attempt_id>/", practice.attempt_detail, name="attempt"),
    path("attempts/<int:attempt_id>/status/", practice.attempt_status, name="attempt_status"),
    path("attempts/<int:attempt_id>/retry/", practice.attempt_retry, name="attempt_retry"),
    path("history/", progress.history, name="history"),
    path("reviews/", progress.reviews, name="reviews"),
    path("team/", progress.team, name="team"),
    path("team/<int:team_id>/", progress.team, name="team_detail"),
    path("take/<str:token>/", take.take, name="take"),
    path("take/<str:token>/start/", take.take_start, name="take_start"),
    path("take/<str:token>/save/", take.take_save, name="take_save"),
    path("take/<str:token>/clock/", take.take_clock, name="take_clock"),
    path("take/<str:token>/submit/", take.take_submit, name="take_submit"),
]
