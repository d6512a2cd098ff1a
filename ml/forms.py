"""The admin form that starts a training run with the main hyper-parameters."""

from __future__ import annotations

from django import forms

from ml.config import ARCHITECTURES, DEFAULT_ARCHITECTURE, TrainingOptions, TrainingOptionsError


class TrainingRunStartForm(forms.Form):
    architecture = forms.ChoiceField(choices=[(a, a) for a in ARCHITECTURES], initial=DEFAULT_ARCHITECTURE)
    epochs = forms.IntegerField(min_value=0, max_value=500, initial=0, help_text="0: the architecture's default.")
    batch_size = forms.IntegerField(min_value=0, max_value=4096, initial=0, help_text="0: the default.")
    learning_rate = forms.FloatField(min_value=0, max_value=1, initial=0, help_text="0: the default.")
    seed = forms.IntegerField(min_value=0, initial=1234)
    patience = forms.IntegerField(min_value=1, max_value=100, initial=3, help_text="Epochs without a better F1.")
    language = forms.CharField(max_length=16, required=False, initial="en", help_text="Empty: every language.")
    include_user_reviews = forms.BooleanField(required=False, help_text="Add visitors' reviews with their rating.")
    activate = forms.BooleanField(required=False, help_text="Serve the new model when training succeeds.")

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors:
            try:
                TrainingOptions.from_params(cleaned)
            except TrainingOptionsError as exc:
                raise forms.ValidationError(str(exc)) from None
        return cleaned
