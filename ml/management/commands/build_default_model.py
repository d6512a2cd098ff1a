"""`manage.py build_default_model [--data PATH] [--output DIR]`: rebuild the model a fresh install serves."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.errors import StarlingError
from ml.shipped import BUILD_SEED, BUILD_THREADS, SHIPPED_DIR, default_model_build

SAMPLE = "trustpilot_reviews_sample.csv"


class Command(BaseCommand):
    help = (
        "Train the default architecture on the public labelled sample and write the shipped default model "
        "(folded serving tables) with its provenance. Same data, seed, threads and library versions: the same bytes."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--data",
            default=str(Path(settings.BASE_DIR).parent / "shared" / "data" / SAMPLE),
            help=f"Labelled CSV (columns text, label). Default: ../shared/data/{SAMPLE}.",
        )
        parser.add_argument(
            "--output", default=str(SHIPPED_DIR), help="Folder to write into (default: ml/default_model)."
        )
        parser.add_argument(
            "--seed", type=int, default=BUILD_SEED, help=f"Split and training seed (default {BUILD_SEED})."
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=BUILD_THREADS,
            help=f"Torch threads while training (default {BUILD_THREADS}).",
        )

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        try:
            build = default_model_build(
                data=options["data"],
                output=options["output"],
                seed=options["seed"],
                threads=max(1, options["threads"]),
                show_progress=options["verbosity"] > 0,
            )
        except StarlingError as exc:
            raise CommandError(str(exc)) from None
        described, metrics = build.provenance, build.provenance["metrics"]
        self.stdout.write(
            f"Wrote {build.model_path} ({described['size_bytes'] / 1e6:.2f} MB, sha256 {described['sha256'][:16]}…) "
            f"and {build.provenance_path.name} in {time.perf_counter() - started:.1f} s."
        )
        self.stdout.write(
            f"Held-out macro-F1: full model {metrics['full_model']['macro_f1']:.4f}, "
            f"shipped {metrics['shipped_model']['macro_f1']:.4f}, lexicon {metrics['lexicon']['macro_f1']:.4f}; "
            f"label agreement full vs shipped {metrics['label_agreement_full_vs_shipped']}."
        )
        self.stdout.write(self.style.SUCCESS(f"Served as {described['name']} while no model version is active."))
