"""API shapes for predictions, training runs and model versions."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from ml.prediction import LABELS


class PredictInputSerializer(serializers.Serializer):
    """`{"text": "..."}`: the text to score, at most PREDICTION_MAX_CHARS characters."""

    text = serializers.CharField(allow_blank=True, trim_whitespace=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        # The limit is read per request so the schema and the check follow the settings.
        fields = super().get_fields()
        fields["text"] = serializers.CharField(
            allow_blank=True,
            trim_whitespace=False,
            max_length=settings.PREDICTION_MAX_CHARS,
            help_text="The review text as typed so far. Blank text gives a prediction of nulls.",
        )
        return fields


class ProbabilitiesSerializer(serializers.Serializer):
    bad = serializers.FloatField(min_value=0, max_value=1)
    average = serializers.FloatField(min_value=0, max_value=1)
    good = serializers.FloatField(min_value=0, max_value=1)


class PredictionSerializer(serializers.Serializer):
    """The fixed prediction object, the same as the websocket and `manage.py predict --json` answer."""

    score = serializers.FloatField(
        min_value=0, max_value=1, allow_null=True, help_text="0 very negative … 1 very positive; null for blank text."
    )
    label = serializers.ChoiceField(choices=LABELS, allow_null=True)
    probabilities = ProbabilitiesSerializer(allow_null=True)
    suggested_rating = serializers.IntegerField(min_value=1, max_value=5, allow_null=True)
    model = serializers.CharField(help_text="The name of the model that scored the text.")
