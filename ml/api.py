"""API views for predictions (public), and training runs, model versions and live quality (staff)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_errors import RETRY_AFTER, error_responses
from ml.inference import predict
from ml.models import ModelVersion, TrainingRun
from ml.serializers import (
    ModelVersionSerializer,
    PredictInputSerializer,
    PredictionSerializer,
    TrainingRunSerializer,
    TrainingStartSerializer,
)
from ml.services import model_version_activate, training_run_start
from reviews.quality import PERIODS, live_quality, live_quality_window

PREDICT_EXAMPLES = [
    OpenApiExample(
        "A happy customer",
        value={"text": "Fast delivery and friendly support, I will order again."},
        request_only=True,
    ),
    OpenApiExample(
        "Prediction",
        value={
            "score": 0.91,
            "label": "good",
            "probabilities": {"bad": 0.03, "average": 0.06, "good": 0.91},
            "suggested_rating": 5,
            "model": "charcnn-2026-11-29-1",
        },
        response_only=True,
        status_codes=["200"],
    ),
    OpenApiExample(
        "Why this score",
        value={"text": "Slow delivery but lovely shoes.", "explain": True},
        request_only=True,
    ),
    OpenApiExample(
        "Prediction with its explanation",
        value={
            "score": 0.62,
            "label": "good",
            "probabilities": {"bad": 0.21, "average": 0.34, "good": 0.45},
            "suggested_rating": 4,
            "model": "default-fasttext-1a2b3c4d",
            "explanation": [
                {"start": 0, "end": 4, "weight": -0.71},
                {"start": 18, "end": 24, "weight": 0.66},
                {"start": 25, "end": 30, "weight": 0.12},
            ],
        },
        response_only=True,
        status_codes=["200"],
    ),
    OpenApiExample(
        "Blank text",
        value={"score": None, "label": None, "probabilities": None, "suggested_rating": None, "model": "lexicon-vader"},
        response_only=True,
        status_codes=["200"],
    ),
    OpenApiExample(
        "Text too long",
        value={
            "error": {
                "status": 400,
                "code": "invalid",
                "message": "text: Ensure this field has no more than 5000 characters.",
                "fields": {"text": ["Ensure this field has no more than 5000 characters."]},
            }
        },
        response_only=True,
        status_codes=["400"],
    ),
]


class PredictView(APIView):
    """Score a text with the active model."""

    permission_classes = [AllowAny]
    throttle_scope = "predict"

    @extend_schema(
        operation_id="predict",
        summary="Score a text",
        description=(
            "The sentiment of a text from the active model: the same object as the websocket "
            '`/ws/sentiment/` answers. With `"explain": true` it also holds `explanation`: the spans of the '
            "text (offsets into the text as sent) that pushed the score, the strongest first. "
            "Throttled per client (setting THROTTLE_PREDICT)."
        ),
        request=PredictInputSerializer,
        responses={200: PredictionSerializer, **error_responses(400, 403, 413, 415, 429)},
        parameters=[RETRY_AFTER],
        examples=PREDICT_EXAMPLES,
        tags=["predictions"],
    )
    def post(self, request: Request) -> Response:
        """Validate the text, score it, answer with the prediction object."""
        serializer = PredictInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        prediction = predict(serializer.validated_data["text"], explain=serializer.validated_data["explain"])
        return Response(PredictionSerializer(prediction).data)


@extend_schema(tags=["staff"])
class TrainingRunListView(ListAPIView):
    """Training runs, newest first, with their progress; POST starts a new one."""

    permission_classes = [IsAdminUser]
    serializer_class = TrainingRunSerializer

    def get_queryset(self) -> QuerySet[TrainingRun]:
        return TrainingRun.objects.select_related("model_version", "created_by").order_by("-created_at", "-id")

    @extend_schema(
        operation_id="staff_training_runs_list",
        summary="List training runs",
        responses={200: TrainingRunSerializer(many=True), **error_responses(403, 404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        """A page of training runs with their progress."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="staff_training_runs_start",
        summary="Start a training run",
        description="Records a queued training run and puts it on the `training` queue, as the admin does.",
        request=TrainingStartSerializer,
        responses={201: TrainingRunSerializer, **error_responses(400, 403, 415, 503)},
    )
    def post(self, request: Request) -> Response:
        """Validate the options, start training through the service, answer with the queued run."""
        serializer = TrainingStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = training_run_start(params=serializer.validated_data, user=request.user)
        run.refresh_from_db()
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["staff"])
class TrainingRunDetailView(RetrieveAPIView):
    """One training run."""

    permission_classes = [IsAdminUser]
    serializer_class = TrainingRunSerializer
    queryset = TrainingRun.objects.select_related("model_version", "created_by")

    @extend_schema(
        operation_id="staff_training_runs_retrieve",
        summary="One training run",
        responses={200: TrainingRunSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        """The run with this id, for watching its progress."""
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["staff"])
class ModelVersionListView(ListAPIView):
    """Trained model versions, newest first, with their metrics."""

    permission_classes = [IsAdminUser]
    serializer_class = ModelVersionSerializer

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return ModelVersion.objects.order_by("-created_at", "-id")

    @extend_schema(
        operation_id="staff_model_versions_list",
        summary="List model versions",
        responses={200: ModelVersionSerializer(many=True), **error_responses(403, 404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        """A page of model versions with their metrics; `is_active` marks the one served."""
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["staff"])
class ModelVersionActivateView(APIView):
    """Make a model version the one the site serves."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="staff_model_versions_activate",
        summary="Activate a model version",
        description="Checks that the checkpoint loads, then serves this version; the previous one stays active "
        "if it does not.",
        request=None,
        responses={200: ModelVersionSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Activate the version with this id through the service."""
        version = ModelVersion.objects.filter(pk=pk).first()
        if version is None:
            raise NotFound(f"No model version with id {pk}.")
        version = model_version_activate(version=version)
        return Response(ModelVersionSerializer(version).data)


class RoundedFloatField(serializers.FloatField):
    """A share or a mean shown to four decimals."""

    def to_representation(self, value: float) -> float:
        return round(float(value), 4)


class LiveFiguresSerializer(serializers.Serializer):
    """The live-quality figures of a set of reviews (see `reviews.quality`); null where no review counted."""

    reviews = serializers.IntegerField(help_text="Visible reviews with a suggested rating.")
    exact = RoundedFloatField(allow_null=True, help_text="Share whose rating equals the suggestion.")
    within_one = RoundedFloatField(allow_null=True, help_text="Share at most one star from the suggestion.")
    macro_f1 = RoundedFloatField(
        allow_null=True,
        help_text="Macro-F1 of the suggested label against the chosen one (1-2 bad, 3 average, 4-5 good), "
        "over the labels present in either.",
    )
    mae = RoundedFloatField(allow_null=True, help_text="Mean absolute difference in stars.")
    accepted = serializers.IntegerField(help_text="Reviews whose visitor accepted the suggestion.")
    picked = serializers.IntegerField(help_text="Reviews whose visitor picked the stars.")
    acceptance_rate = RoundedFloatField(
        allow_null=True, help_text="accepted / (accepted + picked); reviews stored before this was recorded are out."
    )
    picked_exact = RoundedFloatField(allow_null=True, help_text="`exact` over picked reviews only.")
    picked_within_one = RoundedFloatField(allow_null=True, help_text="`within_one` over picked reviews only.")
    picked_macro_f1 = RoundedFloatField(allow_null=True, help_text="`macro_f1` over picked reviews only.")
    picked_mae = RoundedFloatField(allow_null=True, help_text="`mae` over picked reviews only.")


class LivePeriodSerializer(LiveFiguresSerializer):
    period_start = serializers.DateField(help_text="The first day of the period (a Monday for weeks).")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {"period_start": fields.pop("period_start"), **fields}  # what the figures are of, first


class LiveModelSerializer(LiveFiguresSerializer):
    model = serializers.CharField(help_text="The model's name, as the prediction object gives it.")
    first_review_at = serializers.DateTimeField()
    last_review_at = serializers.DateTimeField()
    series = LivePeriodSerializer(many=True, help_text="The same figures per day or week, oldest first.")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {"model": fields.pop("model"), **fields}  # what the figures are of, first


class LiveMetricsSerializer(serializers.Serializer):
    """`{"models": [...]}`: one entry per model that served suggestions, the newest-serving first."""

    since = serializers.DateTimeField(allow_null=True, help_text="Counted from this moment (null: from the start).")
    until = serializers.DateTimeField(allow_null=True, help_text="Counted up to this moment (null: until now).")
    period = serializers.CharField(help_text="The length of each step of `series`.")
    models = LiveModelSerializer(many=True)


class LiveMetricsQuerySerializer(serializers.Serializer):
    since = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="ISO date or date-time: count reviews from this moment (a date: its start).",
    )
    until = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="ISO date or date-time: count reviews before this moment (a date: to its end).",
    )
    period = serializers.ChoiceField(
        choices=list(PERIODS), required=False, help_text="Step of each model's `series`; default week."
    )


@extend_schema(tags=["staff"])
class LiveMetricsView(APIView):
    """How each served model's suggestions fare against the ratings visitors chose."""

    permission_classes = [IsAdminUser]

    @extend_schema(
        operation_id="staff_live_metrics",
        summary="Live quality per model",
        description=(
            "For every model that suggested ratings: agreement between the visitor's rating and the suggestion "
            "over visible reviews (hidden ones are left out), overall and over picked reviews only, with a "
            "series per day or week. `since`/`until` (ISO dates or date-times) limit the reviews by when they "
            "were written."
        ),
        parameters=[LiveMetricsQuerySerializer],
        responses={200: LiveMetricsSerializer, **error_responses(400, 403)},
    )
    def get(self, request: Request) -> Response:
        """Read the window, compute the figures through the selector, answer them."""
        query = LiveMetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        since, until = live_quality_window(
            since=query.validated_data.get("since"), until=query.validated_data.get("until")
        )
        period = query.validated_data.get("period") or "week"
        models = live_quality(since=since, until=until, period=period)
        return Response(
            LiveMetricsSerializer({"since": since, "until": until, "period": period, "models": models}).data
        )
