"""Admin screens of queued work (training runs, label audits): a start form, and run pages that refresh until done."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from core.errors import StarlingError


class JobRunStartAdmin:
    """Mixed into a JobRun's ModelAdmin: "Add" is a start form whose options become a queued run.

    Set `start_form`, `start_title`, `start_template` and `run_noun` ("Training"), and write `run_start`.
    """

    start_form: type[forms.Form]
    start_title: str
    start_template: str
    run_noun: str

    def run_start(self, request: HttpRequest, params: dict):
        """Queue a run with the form's options; a StarlingError is shown on the form."""
        raise NotImplementedError

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        """The start form: options → an RQ job."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = self.start_form(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run = self.run_start(request, form.cleaned_data)
            except StarlingError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{self.run_noun} #{run.pk} is queued.", messages.SUCCESS)
                opts = self.model._meta
                return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": self.start_title,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, self.start_template, context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        run = get_object_or_404(self.model, pk=object_id)
        extra = {**(extra_context or {}), "refresh_seconds": None if run.is_finished else 5}
        return super().change_view(request, object_id, form_url, extra)
