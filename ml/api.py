"""API views for predictions (public) and for training runs and model versions (staff)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api_errors import RETRY_AFTER, error_responses
from ml.inference import predict
from ml.serializers import PredictInputSerializer, PredictionSerializer

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
        responses={200: PredictionSerializer, **error_responses(400, 403, 415, 429)},
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
