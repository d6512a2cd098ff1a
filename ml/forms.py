"""The admin form that starts a training run: one field per training option, built from their table."""

from __future__ import annotations

from django import forms

from ml.config import TRAINING_OPTIONS, Option, TrainingOptions, TrainingOptionsError


def option_form_field(option: Option) -> forms.Field:
    """The form field of a training option, with its bounds, default and help."""
    common = {"initial": option.default, "help_text": option.help}
    if option.choices is not None:
        return forms.ChoiceField(choices=[(choice, choice) for choice in option.choices], **common)
    if option.kind is bool:
        return forms.BooleanField(required=False, **common)
    if option.kind is str:
        return forms.CharField(required=False, max_length=option.max_length, **common)
    field = forms.FloatField if option.kind is float else forms.IntegerField
    # Left empty, a number takes its default.
    return field(required=False, min_value=option.minimum, max_value=option.maximum, **common)


class TrainingRunStartForm(forms.Form):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, option in TRAINING_OPTIONS.items():
            self.fields[name] = option_form_field(option)

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.errors:
            try:
                TrainingOptions.from_params(cleaned)
            except TrainingOptionsError as exc:
                self.add_error(exc.field, str(exc))
        return cleaned
