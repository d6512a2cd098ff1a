"""`manage.py train [--epochs N] [--activate] [--architecture A] ...`: train on the labelled reviews here."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.errors import StarlingError
from ml.config import TRAINING_OPTIONS
from ml.models import TrainingRun
from ml.services import training_run_foreground

ALL_LANGUAGES = "all"


class Command(BaseCommand):
    help = "Train a sentiment model on the labelled reviews in the database and record a ModelVersion."

    def add_arguments(self, parser) -> None:
        # One flag per training option, from the same table the service validates with.
        for name, option in TRAINING_OPTIONS.items():
            flag = "--" + name.replace("_", "-")
            if option.kind is bool:
                parser.add_argument(flag, action="store_true", help=option.help)
            elif name == "language":
                parser.add_argument(
                    flag, default=option.default, help=f"{option.help} '{ALL_LANGUAGES}' means every language too."
                )
            else:
                parser.add_argument(
                    flag, type=option.kind, default=option.default, choices=option.choices, help=option.help
                )

    def handle(self, *args, **options) -> None:
        params = {name: options[name] for name in TRAINING_OPTIONS}
        if params["language"].lower() == ALL_LANGUAGES:
            params["language"] = ""
        try:
            run = training_run_foreground(params=params, show_progress=options["verbosity"] > 0)
        except StarlingError as exc:
            raise CommandError(str(exc)) from None
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"Training run #{run.pk} failed: {run.error or run.status}")
        version = run.model_version
        sizes = run.dataset.get("sizes", {})
        self.stdout.write(
            f"Trained {version.name} on {sizes.get('train')} reviews "
            f"(validation {sizes.get('validation')}, test {sizes.get('test')})."
        )
        self.stdout.write(
            f"Test accuracy {version.metrics['accuracy']:.4f}, macro-F1 {version.metrics['macro_f1']:.4f}; "
            f"checkpoint {version.file} ({version.size_bytes / 1e6:.1f} MB)."
        )
        self.stdout.write(
            self.style.SUCCESS(f"{version.name} is now active.")
            if params["activate"]
            else "Not active; activate it in the admin or run again with --activate."
        )
