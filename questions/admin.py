"""Admin for the question bank (curation views are built on these)."""

from django.contrib import admin

from questions.models import Erratum, Question, ReferenceAnswerVersion, Tag, Topic


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "name_en", "slug", "order"]
    search_fields = ["name", "name_en", "slug"]
    ordering = ["order"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]


class ReferenceAnswerVersionInline(admin.TabularInline):
    model = ReferenceAnswerVersion
    fields = ["number", "status", "author", "reviewer", "change_note", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ["number", "title", "topic", "status", "difficulty"]
    list_filter = ["topic", "status", "difficulty", "tags"]
    search_fields = ["title", "title_en", "search_document"]
    list_select_related = ["topic"]
    autocomplete_fields = ["tags"]
    inlines = [ReferenceAnswerVersionInline]
    readonly_fields = ["source_file", "source_line", "created_at", "updated_at"]


@admin.register(ReferenceAnswerVersion)
class ReferenceAnswerVersionAdmin(admin.ModelAdmin):
    list_display = ["question", "number", "status", "author", "reviewer", "created_at"]
    list_filter = ["status"]
    search_fields = ["question__title", "body", "change_note"]
    list_select_related = ["question", "author", "reviewer"]
    raw_id_fields = ["question", "based_on"]


@admin.register(Erratum)
class ErratumAdmin(admin.ModelAdmin):
    list_display = ["id", "question", "severity", "status", "reporter", "created_at"]
    list_filter = ["status", "severity"]
    search_fields = ["quote", "explanation", "question__title"]
    list_select_related = ["question", "reporter"]
    raw_id_fields = ["question", "version", "fixed_in"]
