"""API views for predictions (public), and training runs and model versions (staff)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
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
            "`/ws/sentiment/` answers. Throttled per client (setting THROTTLE_PREDICT)."
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
        prediction = predict(serializer.validated_data["text"])
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
