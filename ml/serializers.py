"""API shapes for predictions, training runs and model versions."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from core.api_fields import StrictCharField
from ml.config import TRAINING_OPTIONS, Option
from ml.explanation import EXPLANATION_SPANS
from ml.models import ModelVersion, TrainingRun
from reviews.labels import LABELS


class PredictInputSerializer(serializers.Serializer):
    """`{"text": "...", "explain": false}`: the text to score (at most PREDICTION_MAX_CHARS characters)."""

    text = StrictCharField(allow_blank=True, trim_whitespace=False)
    explain = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true: the answer also holds `explanation`, the spans of the text that drove the score.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # The limit is read per request so the schema and the check follow the settings.
        fields = super().get_fields()
        fields["text"] = StrictCharField(
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


class ExplanationSpanSerializer(serializers.Serializer):
    """One span of the submitted text and how far it pushed the prediction."""

    start = serializers.IntegerField(min_value=0, help_text="Offset of the span's first character in the text sent.")
    end = serializers.IntegerField(min_value=1, help_text="Offset just past the span's last character.")
    weight = serializers.FloatField(
        help_text="Log-odds of good against bad the span adds: positive pushes towards good, negative towards bad."
    )


class PredictionSerializer(serializers.Serializer):
    """The fixed prediction object, the same as the websocket and `manage.py predict --json` answer."""

    score = serializers.FloatField(
        min_value=0, max_value=1, allow_null=True, help_text="0 very negative … 1 very positive; null for blank text."
    )
    label = serializers.ChoiceField(choices=LABELS, allow_null=True)
    probabilities = ProbabilitiesSerializer(allow_null=True)
    suggested_rating = serializers.IntegerField(min_value=1, max_value=5, allow_null=True)
    model = serializers.CharField(help_text="The name of the model that scored the text.")
    explanation = ExplanationSpanSerializer(
        many=True,
        required=False,
        help_text=(
            "Only when the request asked `explain`: the spans of the text that pushed the score, the strongest "
            f"first, at most {EXPLANATION_SPANS}. A `fasttext` model's weights are exact (its n-grams' share of "
            "the log-odds of good against bad); other models' come from blanking each span out."
        ),
    )


def option_serializer_field(option: Option) -> serializers.Field:
    """The API field of a training option, with its bounds and help; absent, the service's default applies."""
    common = {"required": False, "help_text": f"{option.help} Default: {option.default!r}."}
    if option.choices is not None:
        return serializers.ChoiceField(choices=option.choices, **common)
    if option.kind is bool:
        return serializers.BooleanField(**common)
    if option.kind is str:
        return StrictCharField(allow_blank=True, max_length=option.max_length, **common)
    field = serializers.FloatField if option.kind is float else serializers.IntegerField
    return field(min_value=option.minimum, max_value=option.maximum, **common)


class TrainingStartSerializer(serializers.Serializer):
    """The options of a new training run, one field per entry of `ml.config.TRAINING_OPTIONS`."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: option_serializer_field(option) for name, option in TRAINING_OPTIONS.items()}


class ModelVersionSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "name", "is_active"]
        read_only_fields = fields


class TrainingRunSerializer(serializers.ModelSerializer):
    """A training run as staff watch it: status, progress, per-epoch history and the version it made."""

    progress = serializers.FloatField(min_value=0, max_value=1, read_only=True, help_text="0 to 1.")
    model_version = ModelVersionSummarySerializer(read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "status",
            "params",
            "progress",
            "progress_message",
            "error",
            "history",
            "dataset",
            "model_version",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
        ]
        read_only_fields = fields


class ModelVersionSerializer(serializers.ModelSerializer):
    """A trained model with its settings and measured quality."""

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "name",
            "architecture",
            "is_active",
            "metrics",
            "hyperparameters",
            "dataset",
            "size_bytes",
            "created_at",
        ]
        read_only_fields = fields
