"""`manage.py train [--epochs N] [--activate] [--architecture A] ...`: train on the labelled reviews here."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.jobs import execute_run
from ml.config import ARCHITECTURES, DEFAULT_ARCHITECTURE, TrainingOptionsError
from ml.models import TrainingRun
from ml.services import training_run_create_local, training_run_execute


class Command(BaseCommand):
    help = "Train a sentiment model on the labelled reviews in the database and record a ModelVersion."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--architecture", choices=ARCHITECTURES, default=DEFAULT_ARCHITECTURE)
        parser.add_argument("--epochs", type=int, default=0, help="Maximum epochs (default: the architecture's).")
        parser.add_argument("--batch-size", type=int, default=0)
        parser.add_argument("--learning-rate", type=float, default=0.0)
        parser.add_argument("--seed", type=int, default=1234)
        parser.add_argument("--patience", type=int, default=3, help="Stop after N epochs without a better val F1.")
        parser.add_argument("--language", default="en", help="Language code to keep ('all' for every language).")
        parser.add_argument("--include-user-reviews", action="store_true", help="Add visitors' reviews and ratings.")
        parser.add_argument("--max-rows", type=int, default=0, help="Use at most N rows (0: all).")
        parser.add_argument("--activate", action="store_true", help="Serve the new model when training succeeds.")

    def handle(self, *args, **options) -> None:
        params = {
            "architecture": options["architecture"],
            "epochs": options["epochs"],
            "batch_size": options["batch_size"],
            "learning_rate": options["learning_rate"],
            "seed": options["seed"],
            "patience": options["patience"],
            "language": "" if options["language"].lower() == "all" else options["language"],
            "include_user_reviews": options["include_user_reviews"],
            "max_rows": options["max_rows"],
            "activate": options["activate"],
        }
        try:
            run = training_run_create_local(params=params)
        except TrainingOptionsError as exc:
            raise CommandError(str(exc)) from None
        show = options["verbosity"] > 0
        status = execute_run(run._meta.label, run.pk, lambda r: training_run_execute(r, show_progress=show))
        run = TrainingRun.objects.select_related("model_version").get(pk=run.pk)
        if status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"Training run #{run.pk} failed: {run.error.splitlines()[0] if run.error else status}")
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
            if options["activate"]
            else "Not active; activate it in the admin or run again with --activate."
        )
