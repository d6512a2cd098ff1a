"""Staff screens for dataset snapshots: freeze the current dataset, see its sizes, download it as CSV or JSON lines."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable

from asgiref.sync import sync_to_async
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join

from core.errors import StarlingError
from reviews.dataset import (
    EXPORT_FORMATS,
    dataset_export_lines,
    dataset_rows_streamed,
    dataset_snapshot_create,
)
from reviews.models import DatasetSnapshot

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


class DatasetSnapshotForm(forms.Form):
    name = forms.SlugField(max_length=100, help_text="Letters, digits, hyphens, underscores; e.g. 2026-11-cleaned.")
    language = forms.CharField(
        initial="en", required=False, max_length=16, help_text="As training reads it; empty: every language."
    )
    include_user_reviews = forms.BooleanField(
        required=False, help_text="Add visitors' visible reviews whose rating they picked themselves."
    )


DOWNLOAD_LINES_PER_CHUNK = 500


async def lines_in_chunks(lines: Iterable[str]) -> AsyncIterator[str]:
    """The export's lines for an ASGI server, a chunk at a time.

    Under ASGI, Django reads a synchronous iterator whole before it sends anything; this pulls the
    lines in chunks on the request's own thread (where its database cursor lives) instead.
    """
    iterator = iter(lines)
    next_chunk = sync_to_async(lambda: list(itertools.islice(iterator, DOWNLOAD_LINES_PER_CHUNK)))
    while chunk := await next_chunk():
        yield "".join(chunk)


def dataset_download(rows, *, export_format: str, filename: str) -> StreamingHttpResponse:
    """A streamed download of dataset rows (never the whole table in memory)."""
    lines = dataset_export_lines(rows, export_format=export_format)
    response = StreamingHttpResponse(lines_in_chunks(lines), content_type=CONTENT_TYPES[export_format])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{export_format}"'
    return response


@admin.register(DatasetSnapshot)
class DatasetSnapshotAdmin(admin.ModelAdmin):
    list_display = ("name", "rows", "counts", "sha256_short", "downloads", "created_by", "created_at")
    search_fields = ("name",)
    readonly_fields = (
        "name",
        "rows",
        "counts",
        "source_counts",
        "language",
        "include_user_reviews",
        "sha256",
        "downloads",
        "created_by",
        "created_at",
    )
    fields = readonly_fields
    change_list_template = "admin/reviews/datasetsnapshot/change_list.html"

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    @admin.display(description="classes")
    def counts(self, snapshot: DatasetSnapshot) -> str:
        return " · ".join(f"{label} {n}" for label, n in (snapshot.class_counts or {}).items())

    @admin.display(description="sha256")
    def sha256_short(self, snapshot: DatasetSnapshot) -> str:
        return snapshot.sha256[:12]

    @admin.display(description="download")
    def downloads(self, snapshot: DatasetSnapshot) -> str:
        return format_html_join(
            " · ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:reviews_datasetsnapshot_export", args=[snapshot.pk, fmt]), fmt.upper())
                for fmt in EXPORT_FORMATS
            ),
        )

    def get_urls(self):
        extra = [
            path(
                "<int:object_id>/export/<str:export_format>/",
                self.admin_site.admin_view(self.export_view),
                name="reviews_datasetsnapshot_export",
            ),
            path(
                "current/export/<str:export_format>/",
                self.admin_site.admin_view(self.export_current_view),
                name="reviews_datasetsnapshot_export_current",
            ),
        ]
        return extra + super().get_urls()

    def export_view(self, request: HttpRequest, object_id: int, export_format: str) -> HttpResponse:
        """A snapshot's rows, with the labels they were frozen with, streamed as CSV or JSON lines."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if export_format not in EXPORT_FORMATS:
            raise Http404("Unknown export format.")
        snapshot = get_object_or_404(DatasetSnapshot, pk=object_id)
        return dataset_download(
            dataset_rows_streamed(snapshot=snapshot), export_format=export_format, filename=snapshot.name
        )

    def export_current_view(self, request: HttpRequest, export_format: str) -> HttpResponse:
        """The current dataset (English and unlabelled-language rows, as training reads it by default), streamed."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if export_format not in EXPORT_FORMATS:
            raise Http404("Unknown export format.")
        language = request.GET.get("language", "en")
        rows = dataset_rows_streamed(language=language, include_user_reviews=request.GET.get("visitors") == "1")
        return dataset_download(rows, export_format=export_format, filename="dataset-current")

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        """Freeze the current dataset under a name."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = DatasetSnapshotForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                snapshot = dataset_snapshot_create(**form.cleaned_data, user=request.user)
            except StarlingError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                self.message_user(request, f"Snapshot {snapshot.name}: {snapshot.rows} rows frozen.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:reviews_datasetsnapshot_change", args=[snapshot.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Freeze the current dataset",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/reviews/datasetsnapshot/add.html", context)
