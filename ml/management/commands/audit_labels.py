"""`manage.py audit_labels [--json] [--limit N] [--exclude]`: find rows whose label probably does not match the text."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from core.errors import StarlingError
from ml.audit import EXCLUDE_CONFIDENCE, AuditOptions, audit_report, audit_run_foreground, audit_suspects_exclude
from ml.models import AuditRun


class Command(BaseCommand):
    help = (
        "Score every training row with models that never saw it (k-fold) and list the rows whose label "
        "probably does not match the text, most likely wrong first."
    )

    def add_arguments(self, parser) -> None:
        defaults = AuditOptions()
        parser.add_argument("--json", action="store_true", help='Print {"rows": N, "suspects": [...]} only.')
        parser.add_argument("--limit", type=int, default=None, help="List at most N suspects (all are stored).")
        parser.add_argument(
            "--exclude",
            action="store_true",
            help="Exclude from the dataset the suspects whose suggested label has confidence >= --min-confidence.",
        )
        parser.add_argument(
            "--min-confidence",
            type=float,
            default=EXCLUDE_CONFIDENCE,
            help=f"How sure a suspect must be for --exclude (default {EXCLUDE_CONFIDENCE}).",
        )
        parser.add_argument("--folds", type=int, default=defaults.folds, help="Folds (2-20).")
        parser.add_argument("--seeds", type=int, default=defaults.seeds, help="Models averaged per row (1-5).")
        parser.add_argument(
            "--passes", type=int, default=defaults.passes, help="2: a second pass trains without the first's doubts."
        )
        parser.add_argument("--epochs", type=int, default=defaults.epochs, help="0: the architecture's default.")
        parser.add_argument("--language", default=defaults.language, help="Language code; 'all' for every one.")
        parser.add_argument(
            "--include-user-reviews", action="store_true", help="Audit visitors' reviews with a picked rating too."
        )

    def handle(self, *args, **options) -> None:
        if options["limit"] is not None and options["limit"] < 0:
            raise CommandError("--limit must be 0 or more.")
        if not 0.0 < options["min_confidence"] <= 1.0:
            raise CommandError("--min-confidence must be above 0 and at most 1.")
        language = "" if options["language"].lower() == "all" else options["language"]
        params = {
            "folds": options["folds"],
            "seeds": options["seeds"],
            "passes": options["passes"],
            "epochs": options["epochs"],
            "language": language,
            "include_user_reviews": options["include_user_reviews"],
        }
        quiet = options["json"] or options["verbosity"] == 0

        def progress(done: float, message: str) -> None:
            sys.stderr.write(f"\r{done:4.0%} {message[:100]:<100}")
            sys.stderr.flush()

        try:
            run = audit_run_foreground(params=params, report=None if quiet else progress)
        except StarlingError as exc:
            raise CommandError(str(exc)) from None
        if not quiet:
            sys.stderr.write("\n")
        if run.status != AuditRun.Status.SUCCEEDED:
            raise CommandError(f"Label audit #{run.pk} failed: {run.error or run.status}")
        minimum = options["min_confidence"]
        excluded = audit_suspects_exclude(run=run, min_confidence=minimum) if options["exclude"] else None
        report = audit_report(run, limit=options["limit"])
        if options["json"]:
            self.stdout.write(json.dumps({"rows": report["rows"], "suspects": report["suspects"]}, ensure_ascii=False))
            return
        total = run.summary.get("suspects", 0)
        self.stdout.write(
            f"Label audit #{run.pk}: {total} suspects among {run.rows} rows ({run.summary['seconds']} s)."
        )
        for number, suspect in enumerate(report["suspects"], start=1):
            text = " ".join(suspect["text"].split())
            self.stdout.write(
                f"{number:>4}. {suspect['source']} #{suspect['id']}: {suspect['label']} → {suspect['suggested_label']} "
                f"({suspect['confidence']:.2f}) {text[:80]}"
            )
        if excluded is not None:
            self.stdout.write(f"Excluded {excluded} suspects with confidence >= {minimum}.")
        self.stdout.write("Review them in the admin: Sentiment models › Label suspects.")
