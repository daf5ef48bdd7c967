"""Curation in the Django admin: the question bank, its versioned reference answers and error reports.

The admin is customised, not replaced. Every write goes through ``questions.services`` (or
``questions.regrade``), so the admin follows the same rules as the API: stale edits are
refused, nobody approves their own version, submitted versions are immutable. Each action
is also written to Django's ``LogEntry`` (the object's "History"), so who did what and when
is visible besides the versions' own author/reviewer/timestamps.

Only active staff users with the expert or reviewer role (or admins) reach curation; the
admin site's own login check comes first, then the role predicates of ``accounts.roles``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.roles import Role, is_expert, is_reviewer, user_has_role
from interview_platform.errors import ServiceError
from questions import regrade, services
from questions.diff import version_diff
from questions.models import Erratum, Question, ReferenceAnswerVersion, Tag, Topic

if TYPE_CHECKING:
    from attempts.models import RegradeRun

VersionStatus = ReferenceAnswerVersion.Status


# --- Access --------------------------------------------------------------------------------


class CurationAccessMixin:
    """Experts and reviewers curate; admins may also delete. Everyone else sees nothing."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_expert(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_expert(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_expert(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_expert(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return user_has_role(request.user, Role.ADMIN)


def _service_error_message(request: HttpRequest, error: ServiceError) -> None:
    messages.error(request, error.message)


def _lines(text: str) -> list[str]:
    """One statement per non-empty line; list markers ("- ", "1. ") are dropped."""
    items = []
    for line in (text or "").splitlines():
        line = line.strip()
        for marker in ("- ", "* ", "• "):
            if line.startswith(marker):
                line = line[len(marker) :].strip()
        if line:
            items.append(line)
    return items


# --- Topics and tags -----------------------------------------------------------------------


@admin.register(Topic)
class TopicAdmin(CurationAccessMixin, admin.ModelAdmin):
    list_display = ["name", "name_en", "slug", "order", "question_count"]
    search_fields = ["name", "name_en", "slug"]
    ordering = ["order"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Topic]:
        return super().get_queryset(request).annotate(_question_count=Count("questions"))

    @admin.display(description=gettext_lazy("questions"), ordering="_question_count")
    def question_count(self, topic: Topic) -> int:
        return topic._question_count  # type: ignore[attr-defined]


@admin.register(Tag)
class TagAdmin(CurationAccessMixin, admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]


# --- Questions -----------------------------------------------------------------------------


def _count_subquery(queryset: QuerySet) -> Coalesce:
    counted = queryset.order_by().values("question").annotate(total=Count("pk")).values("total")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


class OpenReportsFilter(admin.SimpleListFilter):
    title = gettext_lazy("open error reports")
    parameter_name = "open_reports"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", _("with open reports")), ("no", _("without"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Question]) -> QuerySet[Question]:
        if self.value() == "yes":
            return queryset.filter(open_errata_count__gt=0)
        if self.value() == "no":
            return queryset.filter(open_errata_count=0)
        return queryset


class ReviewStateFilter(admin.SimpleListFilter):
    title = gettext_lazy("curation state")
    parameter_name = "curation"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("in_review", _("a version awaits review")),
            ("draft", _("a draft is open")),
            ("unpublished", _("no published version")),
            ("no_rubric", _("published without key points")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Question]) -> QuerySet[Question]:
        value = self.value()
        if value in ("in_review", "draft"):
            return queryset.filter(versions__status=value).distinct()
        if value == "unpublished":
            return queryset.filter(published_number__isnull=True)
        if value == "no_rubric":
            return queryset.filter(versions__status=VersionStatus.PUBLISHED, versions__key_points=[])
        return queryset


class VersionForm(forms.Form):
    """A new version, a draft being edited, or a revert (content then comes from the old version)."""

    base_version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, required=False)
    body = forms.CharField(
        label=gettext_lazy("Reference answer (Markdown)"),
        widget=forms.Textarea(attrs={"rows": 18, "class": "vLargeTextField", "lang": "zh"}),
        max_length=services.BODY_MAX_CHARS,
    )
    key_points = forms.CharField(
        label=gettext_lazy("Key points"),
        widget=forms.Textarea(attrs={"rows": 6, "class": "vLargeTextField"}),
        help_text=gettext_lazy("One per line; 3 to 6 short statements a correct answer must contain."),
        required=False,
    )
    misconceptions = forms.CharField(
        label=gettext_lazy("Misconceptions"),
        widget=forms.Textarea(attrs={"rows": 4, "class": "vLargeTextField"}),
        help_text=gettext_lazy("One per line; wrong claims a grader must penalise."),
        required=False,
    )
    change_note = forms.CharField(
        label=gettext_lazy("Change note"),
        widget=forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"}),
        help_text=gettext_lazy("Required: what changed and why."),
        max_length=services.CHANGE_NOTE_MAX_CHARS,
    )
    submit_for_review = forms.BooleanField(label=gettext_lazy("Submit for review at once"), required=False)

    @staticmethod
    def initial_from(version: ReferenceAnswerVersion | None, *, base: int) -> dict[str, Any]:
        if version is None:
            return {"base_version": base}
        return {
            "base_version": base,
            "body": version.body,
            "key_points": "\n".join(version.key_points or []),
            "misconceptions": "\n".join(version.misconceptions or []),
        }

    def content(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "body": data["body"],
            "key_points": _lines(data.get("key_points", "")),
            "misconceptions": _lines(data.get("misconceptions", "")),
            "change_note": data["change_note"],
        }

    def add_service_error(self, error: ServiceError) -> None:
        _form_add_service_error(self, error)


def _form_add_service_error(form: forms.Form, error: ServiceError) -> None:
    """Show a service's refusal on the form: on the fields it names, else above the form."""
    placed = False
    for field, field_messages in error.field_errors.items():
        for message in field_messages:
            form.add_error(field if field in form.fields else None, message)
            placed = True
    if not placed:
        form.add_error(None, error.message)


class ChangeNoteForm(forms.Form):
    change_note = forms.CharField(
        label=gettext_lazy("Change note"),
        widget=forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"}),
        max_length=services.CHANGE_NOTE_MAX_CHARS,
    )


class ReviewCommentForm(forms.Form):
    comment = forms.CharField(
        label=gettext_lazy("Comment"),
        widget=forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"}),
        max_length=services.CHANGE_NOTE_MAX_CHARS,
        required=False,
    )


QUESTION_FIELDS = ["topic", "number", "order", "title", "title_en", "group", "parent", "difficulty", "tags", "status"]


def question_fingerprint(question: Question) -> str:
    """A digest of the question's editable fields, to notice a change made by someone else."""
    values = [
        question.topic_id,
        question.number,
        question.order,
        question.title,
        question.title_en,
        question.group,
        question.parent_id,
        question.difficulty,
        question.status,
        sorted(question.tags.values_list("pk", flat=True)),
    ]
    return hashlib.sha256(json.dumps(values, default=str, ensure_ascii=False).encode()).hexdigest()


class QuestionForm(forms.ModelForm):
    """The question's details, refused when someone else saved them after this form was loaded."""

    loaded_state = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Question
        fields = QUESTION_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["loaded_state"].initial = question_fingerprint(self.instance)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.instance.pk:
            current = Question.objects.get(pk=self.instance.pk)
            if data.get("loaded_state") != question_fingerprint(current):
                last = (
                    LogEntry.objects.filter(
                        content_type__app_label="questions", content_type__model="question", object_id=str(current.pk)
                    )
                    .select_related("user")
                    .order_by("-action_time")
                    .first()
                )
                who = (
                    _(" (last change by %(user)s at %(time)s)")
                    % {"user": last.user, "time": localtime(last.action_time).strftime("%Y-%m-%d %H:%M")}
                    if last
                    else ""
                )
                raise forms.ValidationError(
                    _(
                        "Someone else changed this question after you opened it%(who)s. Your changes were not "
                        "saved: reload the page to see theirs, then edit again."
                    )
                    % {"who": who},
                    code="stale_question",
                )
        return data


@admin.register(Question)
class QuestionAdmin(CurationAccessMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "title",
        "topic",
        "status",
        "published_version",
        "open_reports",
        "awaiting_review",
        "difficulty",
    ]
    list_display_links = ["number", "title"]
    list_filter = ["topic", "status", ReviewStateFilter, OpenReportsFilter, "difficulty", "tags"]
    # Searching is ``get_search_results``'s (Chinese-aware); the field makes the box appear.
    search_fields = ["title"]
    search_help_text = gettext_lazy("Words in the title or published answer; Chinese is segmented.")
    list_select_related = ["topic"]
    list_per_page = 50
    autocomplete_fields = ["tags"]
    form = QuestionForm
    fields = [*QUESTION_FIELDS, "loaded_state"]
    raw_id_fields = ["parent"]
    readonly_fields = ["source_file", "source_line", "created_at", "updated_at"]
    change_form_template = "admin/questions/question/change_form.html"

    def get_fields(self, request: HttpRequest, obj: Question | None = None) -> list[str]:
        return [*self.fields, *(self.readonly_fields if obj else [])]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Question]:
        published = ReferenceAnswerVersion.objects.filter(question=OuterRef("pk"), status=VersionStatus.PUBLISHED)
        return (
            super()
            .get_queryset(request)
            .annotate(
                published_number=Subquery(published.values("number")[:1]),
                open_errata_count=_count_subquery(
                    Erratum.objects.filter(question=OuterRef("pk"), status=Erratum.Status.OPEN)
                ),
                in_review_count=_count_subquery(
                    ReferenceAnswerVersion.objects.filter(question=OuterRef("pk"), status=VersionStatus.IN_REVIEW)
                ),
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Question], search_term: str
    ) -> tuple[QuerySet[Question], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        found = question_admin_search(queryset, term)
        return found, False

    @admin.display(description=gettext_lazy("published"), ordering="published_number")
    def published_version(self, question: Question) -> str:
        number = getattr(question, "published_number", None)
        return f"v{number}" if number else "—"

    @admin.display(description=gettext_lazy("open reports"), ordering="open_errata_count")
    def open_reports(self, question: Question) -> Any:
        count = getattr(question, "open_errata_count", 0)
        if not count:
            return 0
        url = reverse("admin:questions_erratum_changelist") + f"?question__id__exact={question.pk}&status__exact=open"
        return format_html('<a href="{}"><strong>{}</strong></a>', url, count)

    @admin.display(description=gettext_lazy("awaiting review"), ordering="in_review_count")
    def awaiting_review(self, question: Question) -> int:
        return getattr(question, "in_review_count", 0)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Title, English title and tags feed the search document; keep it in step.
        question = form.instance
        published = question.versions.filter(status=VersionStatus.PUBLISHED).first()
        services.question_search_document_refresh(question=question, published=published)

    # --- The question page -----------------------------------------------------------------

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = dict(extra_context or {})
        question = self.get_object(request, object_id)
        if question is not None:
            context.update(self._curation_context(request, question))
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _curation_context(self, request: HttpRequest, question: Question) -> dict[str, Any]:
        versions = list(question.versions.select_related("author", "reviewer", "based_on").order_by("-number"))
        published = next((v for v in versions if v.status == VersionStatus.PUBLISHED), None)
        latest = versions[0] if versions else None
        user = request.user
        for version in versions:
            version.can_edit = version.status == VersionStatus.DRAFT and version.author_id == user.pk
            version.can_submit = version.status == VersionStatus.DRAFT and (
                version.author_id == user.pk or user_has_role(user, Role.ADMIN)
            )
            version.can_review = (
                version.status == VersionStatus.IN_REVIEW and is_reviewer(user) and version.author_id != user.pk
            )
            version.own_in_review = version.status == VersionStatus.IN_REVIEW and version.author_id == user.pk
            version.can_revert = version.status != VersionStatus.DRAFT and version is not latest
        open_errata = list(
            question.errata.filter(status=Erratum.Status.OPEN).select_related("reporter", "version")[:20]
        )
        return {
            "versions": versions,
            "published": published,
            "latest": latest,
            "open_errata": open_errata,
            "regrade": regrade.regrade_overview(question=question),
            "compare_url": self._url("compare", question),
            "new_version_url": self._url("version_new", question),
        }

    def _url(self, name: str, question: Question, *args: Any) -> str:
        return reverse(f"admin:questions_question_{name}", args=[question.pk, *args])

    def get_urls(self) -> list[URLPattern]:
        def view(function: Any, name: str, route: str) -> URLPattern:
            return path(route, self.admin_site.admin_view(function), name=f"questions_question_{name}")

        return [
            view(self.version_new_view, "version_new", "<int:question_id>/versions/new/"),
            view(self.version_detail_view, "version", "<int:question_id>/versions/<int:number>/"),
            view(self.version_edit_view, "version_edit", "<int:question_id>/versions/<int:number>/edit/"),
            view(self.version_submit_view, "version_submit", "<int:question_id>/versions/<int:number>/submit/"),
            view(self.version_approve_view, "version_approve", "<int:question_id>/versions/<int:number>/approve/"),
            view(self.version_reject_view, "version_reject", "<int:question_id>/versions/<int:number>/reject/"),
            view(self.version_revert_view, "version_revert", "<int:question_id>/versions/<int:number>/revert/"),
            view(self.compare_view, "compare", "<int:question_id>/compare/"),
            view(self.regrade_start_view, "regrade_start", "<int:question_id>/regrade/"),
            view(self.regrade_run_view, "regrade_run", "<int:question_id>/regrade/<int:run_id>/"),
            view(self.regrade_apply_view, "regrade_apply", "<int:question_id>/regrade/<int:run_id>/apply/"),
            view(self.regrade_cancel_view, "regrade_cancel", "<int:question_id>/regrade/<int:run_id>/cancel/"),
            view(self.regrade_resume_view, "regrade_resume", "<int:question_id>/regrade/<int:run_id>/resume/"),
            *super().get_urls(),
        ]

    # --- Custom views ----------------------------------------------------------------------

    def _question(self, request: HttpRequest, question_id: int) -> Question:
        if not is_expert(request.user):
            raise PermissionDenied
        return get_object_or_404(Question.objects.select_related("topic"), pk=question_id)

    def _version(self, question: Question, number: int) -> ReferenceAnswerVersion:
        return get_object_or_404(
            ReferenceAnswerVersion.objects.select_related("author", "reviewer", "based_on", "question"),
            question=question,
            number=number,
        )

    def _back(self, question: Question) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:questions_question_change", args=[question.pk]))

    def _render(
        self, request: HttpRequest, template: str, question: Question, context: dict[str, Any], status: int = 200
    ) -> TemplateResponse:
        full = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "question": question,
            "original": question,
            "question_url": reverse("admin:questions_question_change", args=[question.pk]),
            **context,
        }
        return TemplateResponse(request, f"admin/questions/question/{template}", full, status=status)

    def _log(self, request: HttpRequest, question: Question, message: str) -> None:
        self.log_change(request, question, message)

    def version_new_view(self, request: HttpRequest, question_id: int) -> HttpResponse:
        """A new version pre-filled from the published one (or the latest when none is published)."""
        question = self._question(request, question_id)
        latest = question.versions.order_by("-number").first()
        source = question.versions.filter(status=VersionStatus.PUBLISHED).first() or latest
        latest_number = latest.number if latest else 0
        status = 200
        stale_from: int | None = None
        if request.method == "POST":
            form = VersionForm(request.POST)
            if form.is_valid():
                try:
                    with transaction.atomic():  # saved and submitted together, or neither
                        version = services.reference_version_create(
                            question=question,
                            author=request.user,
                            base_version=form.cleaned_data.get("base_version") or 0,
                            **form.content(),
                        )
                        if form.cleaned_data["submit_for_review"]:
                            version = services.reference_version_submit(version=version, actor=request.user)
                except ServiceError as error:
                    status = error.status_code
                    if error.code == "stale_version":
                        # Nothing is saved. The author's text stays in the form, now based on
                        # the latest version: saving again is a deliberate new version on top
                        # of the colleague's, after the page shows what changed.
                        _service_error_message(request, error)
                        stale_from = form.cleaned_data.get("base_version") or 0
                        latest_number = error.extra.get("current_version", latest_number)
                        data = request.POST.copy()
                        data["base_version"] = str(latest_number)
                        form = VersionForm(data)
                        form.is_valid()
                    else:
                        form.add_service_error(error)
                else:
                    self._log(request, question, f"Created reference version v{version.number} ({version.status})")
                    messages.success(
                        request,
                        _("Version v%(number)d saved as %(status)s.")
                        % {"number": version.number, "status": version.get_status_display()},
                    )
                    return self._back(question)
            else:
                status = 400
        else:
            form = VersionForm(initial=VersionForm.initial_from(source, base=latest_number))
        return self._render(
            request,
            "version_form.html",
            question,
            {
                "title": _("New version of “%(title)s”") % {"title": question.title},
                "form": form,
                "source": source,
                "latest_number": latest_number,
                "stale_from": stale_from,
                "submit_label": _("Save version"),
                "show_submit_choice": True,
            },
            status=status,
        )

    def version_detail_view(self, request: HttpRequest, question_id: int, number: int) -> HttpResponse:
        question = self._question(request, question_id)
        version = self._version(question, number)
        return self._render(
            request,
            "version_detail.html",
            question,
            {
                "title": _("v%(number)d of “%(title)s”") % {"number": number, "title": question.title},
                "version": version,
                "errata": version.errata.select_related("reporter"),
                "fixed": version.fixed_errata.select_related("reporter"),
            },
        )

    def version_edit_view(self, request: HttpRequest, question_id: int, number: int) -> HttpResponse:
        question = self._question(request, question_id)
        version = self._version(question, number)
        if version.status != VersionStatus.DRAFT or version.author_id != request.user.pk:
            messages.error(request, _("Only the author may edit a draft; submitted versions are immutable."))
            return self._back(question)
        status = 200
        if request.method == "POST":
            form = VersionForm(request.POST)
            if form.is_valid():
                try:
                    with transaction.atomic():
                        version = services.reference_version_update_draft(
                            version=version, actor=request.user, **form.content()
                        )
                        if form.cleaned_data["submit_for_review"]:
                            version = services.reference_version_submit(version=version, actor=request.user)
                except ServiceError as error:
                    status = error.status_code
                    form.add_service_error(error)
                else:
                    self._log(request, question, f"Edited draft v{version.number}")
                    messages.success(request, _("Draft v%(number)d saved.") % {"number": version.number})
                    return self._back(question)
            else:
                status = 400
        else:
            initial = VersionForm.initial_from(version, base=version.number)
            initial["change_note"] = version.change_note
            form = VersionForm(initial=initial)
        return self._render(
            request,
            "version_form.html",
            question,
            {
                "title": _("Edit draft v%(number)d") % {"number": version.number},
                "form": form,
                "source": version,
                "submit_label": _("Save draft"),
                "show_submit_choice": True,
            },
            status=status,
        )

    def _post_action(self, request: HttpRequest) -> None:
        if request.method != "POST":
            raise Http404

    def version_submit_view(self, request: HttpRequest, question_id: int, number: int) -> HttpResponse:
        question = self._question(request, question_id)
        self._post_action(request)
        version = self._version(question, number)
        try:
            services.reference_version_submit(version=version, actor=request.user)
        except ServiceError as error:
            _service_error_message(request, error)
        else:
            self._log(request, question, f"Submitted v{number} for review")
            messages.success(request, _("v%(number)d submitted for review.") % {"number": number})
        return self._back(question)

    def version_approve_view(self, request: HttpRequest, question_id: int, number: int) -> HttpResponse:
        question = self._question(request, question_id)
        self._post_action(request)
        version = self._version(question, number)
        form = ReviewCommentForm(request.POST)
        comment = form.cleaned_data["comment"] if form.is_valid() else ""
        try:
            version = services.reference_version_approve(version=version, reviewer=request.user, comment=comment)
        except ServiceError as error:
            _service_error_message(request, error)
        else:
            self._log(request, question, f"Approved and published v{number}")
            affected = getattr(version, "superseded_attempt_count", 0)
            messages.success(
                request,
                _("v%(number)d is published; the previous version is superseded.") % {"number": number},
            )
            if affected:
                messages.warning(
                    request,
                    _(
                        "%(count)d attempts were graded against a superseded version; "
                        "a dry-run regrade shows the effect."
                    )
                    % {"count": affected},
                )
        return self._back(question)

    def _form_action(
        self,
        request: HttpRequest,
        question: Question,
        version: ReferenceAnswerVersion,
        *,
        form: forms.Form,
        perform: Callable[[dict[str, Any]], tuple[str, str]],
        title: str,
        submit_label: str,
    ) -> HttpResponse:
        """A one-form action on a version: validate, call the service, log, or show the refusal on the form.

        ``perform`` takes the cleaned data and returns (log message, success message).
        """
        status = 200
        if request.method == "POST":
            status = 400
            if form.is_valid():
                try:
                    logged, success = perform(form.cleaned_data)
                except ServiceError as error:
                    status = error.status_code
                    _form_add_service_error(form, error)
                else:
                    self._log(request, question, logged)
                    messages.success(request, success)
                    return self._back(question)
        context = {"title": title, "form": form, "version": version, "submit_label": submit_label}
        return self._render(request, "action_form.html", question, context, status=status)

    def version_reject_view(self, request: HttpRequest, question_id: int, number: int) -> HttpResponse:
        question = self._question(request, question_id)
        version = self._version(question, number)
        form = ReviewCommentForm(request.POST if request.method == "POST" else None)
        form.fields["comment"].required = True
        form.fields["comment"].help_text = _("Required: the author reads it.")

        def perform(data: dict[str, Any]) -> tuple[str, str]:
            services.reference_version_reject(version=version, reviewer=request.user, comment=data["comment"])
            return f"Rejected v{number}", _("v%(number)d rejected.") % {"number": number}

        return self._form_action(
            request,
            question,
            version,
            form=form,
            perform=perform,
            title=_("Reject v%(number)d") % {"number": number},
            submit_label=_("Reject"),
        )

    def version_revert_view(self, request: HttpRequest, question_id: int, number: int) -> HttpResponse:
        question = self._question(request, question_id)
        version = self._version(question, number)
        initial = {"change_note": _("Revert to v%(number)d") % {"number": number}}
        form = ChangeNoteForm(request.POST if request.method == "POST" else None, initial=initial)

        def perform(data: dict[str, Any]) -> tuple[str, str]:
            draft = services.reference_version_revert(
                question=question, to_version=number, author=request.user, change_note=data["change_note"]
            )
            return (
                f"Reverted to v{number} as draft v{draft.number}",
                _("Draft v%(new)d copies v%(old)d; submit it for review to publish it.")
                % {"new": draft.number, "old": number},
            )

        return self._form_action(
            request,
            question,
            version,
            form=form,
            perform=perform,
            title=_("Revert to v%(number)d") % {"number": number},
            submit_label=_("Create draft from v%(number)d") % {"number": number},
        )

    def compare_view(self, request: HttpRequest, question_id: int) -> HttpResponse:
        """Two versions side by side; ``?a=1&b=3`` (numbers). Defaults: the two latest."""
        question = self._question(request, question_id)
        versions = list(question.versions.select_related("author", "reviewer").order_by("number"))
        if not versions:
            messages.info(request, _("This question has no versions yet."))
            return self._back(question)
        by_number = {version.number: version for version in versions}
        try:
            left_number = int(
                request.GET.get("a") or (versions[-2].number if len(versions) > 1 else versions[0].number)
            )
            right_number = int(request.GET.get("b") or versions[-1].number)
        except ValueError:
            left_number, right_number = -1, -1
        left, right = by_number.get(left_number), by_number.get(right_number)
        if left is None or right is None:
            messages.error(request, _("Choose two existing versions to compare."))
            left, right = (versions[-2] if len(versions) > 1 else versions[0]), versions[-1]
        return self._render(
            request,
            "compare.html",
            question,
            {
                "title": _("Compare v%(a)d and v%(b)d") % {"a": left.number, "b": right.number},
                "versions": versions,
                "left": left,
                "right": right,
                "diff": version_diff(left, right),
            },
        )

    # --- Regrade ----------------------------------------------------------------------------

    def regrade_start_view(self, request: HttpRequest, question_id: int) -> HttpResponse:
        question = self._question(request, question_id)
        self._post_action(request)
        try:
            run = regrade.regrade_run_start(question=question, actor=request.user)
        except ServiceError as error:
            _service_error_message(request, error)
            return self._back(question)
        self._log(request, question, f"Started dry-run regrade #{run.pk} of {run.total} attempts")
        return HttpResponseRedirect(self._url("regrade_run", question, run.pk))

    def regrade_run_view(self, request: HttpRequest, question_id: int, run_id: int) -> HttpResponse:
        question = self._question(request, question_id)
        run = regrade.regrade_run_get(question=question, run_id=run_id)
        if run is None:
            raise Http404
        return self._render(
            request,
            "regrade_run.html",
            question,
            {
                "title": _("Regrade #%(id)d") % {"id": run.pk},
                "run": run,
                "rows": regrade.regrade_run_results(run=run),
                "in_progress": run.status in regrade.ACTIVE_STATUSES and run.status != "ready",
                "can_apply": run.status == "ready",
            },
        )

    def _regrade_run_action(
        self,
        request: HttpRequest,
        question_id: int,
        run_id: int,
        action: Callable[[RegradeRun], str],
    ) -> HttpResponse:
        """A POST on one regrade run: ``action`` calls the service and returns the log line;
        a refusal becomes an admin message. Back to the run's page either way."""
        question = self._question(request, question_id)
        self._post_action(request)
        run = regrade.regrade_run_get(question=question, run_id=run_id)
        if run is None:
            raise Http404
        try:
            log_line = action(run)
        except ServiceError as error:
            _service_error_message(request, error)
        else:
            self._log(request, question, log_line)
        return HttpResponseRedirect(self._url("regrade_run", question, run.pk))

    def regrade_apply_view(self, request: HttpRequest, question_id: int, run_id: int) -> HttpResponse:
        def apply(run: RegradeRun) -> str:
            changed = regrade.regrade_run_apply(run=run, actor=request.user)
            messages.success(request, _("%(count)d new grades are now current.") % {"count": changed})
            return f"Applied regrade #{run.pk}: {changed} grades made current"

        return self._regrade_run_action(request, question_id, run_id, apply)

    def regrade_resume_view(self, request: HttpRequest, question_id: int, run_id: int) -> HttpResponse:
        def resume(run: RegradeRun) -> str:
            sent = regrade.regrade_run_resume(run=run, actor=request.user)
            messages.success(request, _("%(count)d attempts sent to grading again.") % {"count": sent})
            return f"Sent regrade #{run.pk} again ({sent} attempts)"

        return self._regrade_run_action(request, question_id, run_id, resume)

    def regrade_cancel_view(self, request: HttpRequest, question_id: int, run_id: int) -> HttpResponse:
        def cancel(run: RegradeRun) -> str:
            regrade.regrade_run_cancel(run=run, actor=request.user)
            messages.success(request, _("Regrade cancelled; its grades stay as non-current history."))
            return f"Cancelled regrade #{run.pk}"

        return self._regrade_run_action(request, question_id, run_id, cancel)


def question_admin_search(queryset: QuerySet[Question], term: str) -> QuerySet[Question]:
    """Chinese-aware search on the search document, plus the number and raw title as typed."""
    from questions.search import question_search_filter

    matched = question_search_filter(Question.objects.all(), term).values("pk")
    return queryset.filter(Q(pk__in=matched) | Q(number=term) | Q(title__icontains=term))


# --- Versions (read-only list; changes go through the question page) --------------------------


@admin.register(ReferenceAnswerVersion)
class ReferenceAnswerVersionAdmin(CurationAccessMixin, admin.ModelAdmin):
    list_display = ["question_link", "number", "status", "author", "reviewer", "created_at", "published_at"]
    list_filter = ["status", "question__topic"]
    search_fields = ["question__title", "change_note"]
    list_select_related = ["question", "author", "reviewer"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("question"), ordering="question")
    def question_link(self, version: ReferenceAnswerVersion) -> str:
        url = reverse("admin:questions_question_version", args=[version.question_id, version.number])
        return format_html('<a href="{}">{}</a>', url, version.question)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        version = self.get_object(request, object_id)
        if version is None:
            return super().change_view(request, object_id, form_url, extra_context)
        return HttpResponseRedirect(
            reverse("admin:questions_question_version", args=[version.question_id, version.number])
        )


# --- Error reports -----------------------------------------------------------------------------


class ErratumResolveForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Outcome"),
        choices=[(Erratum.Status.FIXED, gettext_lazy("fixed")), (Erratum.Status.REJECTED, gettext_lazy("rejected"))],
        widget=forms.RadioSelect,
    )
    fixed_in = forms.IntegerField(
        label=gettext_lazy("Fixed in version"),
        min_value=1,
        required=False,
        help_text=gettext_lazy("Its number, e.g. 3."),
    )
    note = forms.CharField(
        label=gettext_lazy("Note to the reporter"),
        widget=forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField"}),
        required=False,
        max_length=services.RESOLUTION_NOTE_MAX_CHARS,
        help_text=gettext_lazy("Required when rejecting: say why."),
    )


class ErratumTopicFilter(admin.SimpleListFilter):
    title = gettext_lazy("topic")
    parameter_name = "topic"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[Any, str]]:
        return [(topic.pk, topic.name) for topic in Topic.objects.order_by("order", "id")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Erratum]) -> QuerySet[Erratum]:
        return queryset.filter(question__topic_id=self.value()) if self.value() else queryset


@admin.register(Erratum)
class ErratumAdmin(CurationAccessMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "question",
        "quote_short",
        "severity",
        "status",
        "reported_version",
        "quote_found",
        "reporter",
        "created_at",
        "fixed_in_number",
    ]
    list_display_links = ["id", "quote_short"]
    list_filter = ["status", "severity", ErratumTopicFilter]
    search_fields = ["quote", "explanation", "question__title"]
    list_select_related = ["question", "reporter", "version", "fixed_in"]
    readonly_fields = [
        "question",
        "version",
        "quote",
        "explanation",
        "severity",
        "reporter",
        "status",
        "fixed_in",
        "resolution_note",
        "resolved_by",
        "created_at",
        "resolved_at",
    ]
    fields = readonly_fields
    actions = ["mark_fixed_by_published"]
    change_form_template = "admin/questions/erratum/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Reports come from readers (portal, API); experts triage them here.
        return False

    @admin.display(description=gettext_lazy("quote"))
    def quote_short(self, erratum: Erratum) -> str:
        return erratum.quote if len(erratum.quote) <= 60 else erratum.quote[:59] + "…"

    @admin.display(description=gettext_lazy("reported version"), ordering="version__number")
    def reported_version(self, erratum: Erratum) -> str:
        return f"v{erratum.version.number}" if erratum.version else "—"

    @admin.display(description=gettext_lazy("quote in text"), boolean=True)
    def quote_found(self, erratum: Erratum) -> bool | None:
        return services.erratum_quote_found(erratum)

    @admin.display(description=gettext_lazy("fixed in"), ordering="fixed_in__number")
    def fixed_in_number(self, erratum: Erratum) -> str:
        return f"v{erratum.fixed_in.number}" if erratum.fixed_in else ""

    @admin.action(description=gettext_lazy("Mark fixed by the question's published version"))
    def mark_fixed_by_published(self, request: HttpRequest, queryset: QuerySet[Erratum]) -> None:
        fixed, refused = 0, []
        for erratum in queryset.select_related("question", "version"):
            published = erratum.question.versions.filter(status=VersionStatus.PUBLISHED).first()
            try:
                services.erratum_resolve(
                    erratum=erratum,
                    actor=request.user,
                    status=Erratum.Status.FIXED,
                    fixed_in=published,
                    note=_("Fixed in v%(number)d.") % {"number": published.number} if published else "",
                )
            except ServiceError as error:
                refused.append(f"#{erratum.pk}: {error.message}")
            else:
                self.log_change(request, erratum, "Marked fixed by the published version")
                fixed += 1
        if fixed:
            messages.success(request, _("%(count)d reports marked fixed.") % {"count": fixed})
        for message in refused:
            messages.error(request, message)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        erratum = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if erratum is not None:
            context["resolve_form"] = ErratumResolveForm()
            context["resolve_url"] = reverse("admin:questions_erratum_resolve", args=[erratum.pk])
            context["quote_found"] = services.erratum_quote_found(erratum)
            context["question_versions"] = erratum.question.versions.order_by("-number")
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:erratum_id>/resolve/",
                self.admin_site.admin_view(require_POST(self.resolve_view)),
                name="questions_erratum_resolve",
            ),
            *super().get_urls(),
        ]

    def resolve_view(self, request: HttpRequest, erratum_id: int) -> HttpResponse:
        if not is_expert(request.user):
            raise PermissionDenied
        erratum = get_object_or_404(Erratum, pk=erratum_id)
        back = HttpResponseRedirect(reverse("admin:questions_erratum_change", args=[erratum.pk]))
        form = ErratumResolveForm(request.POST)
        if not form.is_valid():
            for field, errors in form.errors.items():
                for error in errors:
                    messages.error(request, f"{form.fields[field].label}: {error}" if field in form.fields else error)
            return back
        data = form.cleaned_data
        try:
            erratum = services.erratum_resolve(
                erratum=erratum,
                actor=request.user,
                status=data["status"],
                fixed_in=data.get("fixed_in"),
                note=data.get("note", ""),
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return back
        self.log_change(request, erratum, f"Resolved as {erratum.status}")
        messages.success(
            request, _("Report #%(id)d is now %(status)s.") % {"id": erratum.pk, "status": erratum.get_status_display()}
        )
        return HttpResponseRedirect(reverse("admin:questions_erratum_changelist"))
