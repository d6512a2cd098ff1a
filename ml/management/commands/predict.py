"""`manage.py predict TEXT [--json]`: one prediction from the active model, the same object as the API."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from core.errors import StarlingError
from ml.inference import predict


class Command(BaseCommand):
    help = "Score one text with the active model and print the prediction object."

    def add_arguments(self, parser) -> None:
        parser.add_argument("text", help="The review text.")
        parser.add_argument("--json", action="store_true", help="Print the prediction object as JSON.")

    def handle(self, *args, **options) -> None:
        try:
            prediction = predict(options["text"])
        except StarlingError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(prediction))
        elif prediction["score"] is None:
            self.stdout.write(f"Nothing to score (empty text). Model: {prediction['model']}")
        else:
            probabilities = ", ".join(f"{k} {v:.2f}" for k, v in prediction["probabilities"].items())
            self.stdout.write(
                f"{prediction['label']} (score {prediction['score']:.2f}, suggested {prediction['suggested_rating']}★; "
                f"{probabilities}) by {prediction['model']}"
            )
