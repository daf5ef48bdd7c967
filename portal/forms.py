"""Forms of the portal. They check input shape only; the services enforce the rules."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from attempts.models import Attempt
from questions.models import Erratum, Question, Tag, Topic


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=_("Your answer"),
        widget=forms.Textarea(attrs={"rows": 10, "data-char-count": "answer"}),
        max_length=settings.ANSWER_MAX_CHARS,
        strip=False,
        error_messages={"required": _("Write an answer before submitting.")},
    )
    time_spent_s = forms.IntegerField(required=False, min_value=0, max_value=24 * 3600, widget=forms.HiddenInput)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["answer"].widget.attrs["maxlength"] = settings.ANSWER_MAX_CHARS
        self.fields["answer"].widget.attrs["placeholder"] = _(
            "Explain in your own words, as you would in an interview."
        )

    def clean_answer(self) -> str:
        answer = self.cleaned_data["answer"]
        if not answer.strip():
            raise forms.ValidationError(_("Write an answer before submitting."))
        return answer


class ErratumForm(forms.Form):
    quote = forms.CharField(
        label=_("The claim that is wrong (quote it)"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    explanation = forms.CharField(
        label=_("Why it is wrong"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    severity = forms.ChoiceField(label=_("Severity"), choices=Erratum.Severity.choices, initial=Erratum.Severity.MAJOR)


class BankFilterForm(forms.Form):
    search = forms.CharField(label=_("Search"), required=False, max_length=200)
    topic = forms.ModelChoiceField(
        label=_("Topic"), queryset=Topic.objects.order_by("order", "id"), required=False, empty_label=_("All topics")
    )
    difficulty = forms.ChoiceField(
        label=_("Difficulty"), choices=[("", _("Any difficulty")), *Question.Difficulty.choices], required=False
    )
    tag = forms.ModelChoiceField(
        label=_("Tag"),
        queryset=Tag.objects.order_by("name"),
        required=False,
        to_field_name="slug",
        empty_label=_("Any tag"),
    )
    attempted = forms.ChoiceField(
        label=_("Attempted"),
        choices=[("", _("All questions")), ("yes", _("Attempted")), ("no", _("Not attempted"))],
        required=False,
    )


class HistoryFilterForm(forms.Form):
    topic = forms.ModelChoiceField(
        label=_("Topic"), queryset=Topic.objects.order_by("order", "id"), required=False, empty_label=_("All topics")
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any status")), *Attempt.Status.choices], required=False
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, object]:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned
