"""`manage.py evaluate --data FILE.csv [--model NAME] [--json]`: score a labelled CSV; `--gold`: the gold set."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from core.errors import StarlingError
from ml.evaluation import labelled_csv_read, model_evaluate
from ml.services import model_version_evaluate_gold_named


class Command(BaseCommand):
    help = "Score a labelled CSV (columns text, label) with a model version (default: the active one)."

    def add_arguments(self, parser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--data", help="CSV file with columns text and label (bad/average/good or 1-5).")
        source.add_argument(
            "--gold",
            action="store_true",
            help="Score on the gold set (reviews staff verified) and store the result on the model version.",
        )
        parser.add_argument("--model", default=None, help="Model version name, or lexicon-vader (default: active).")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options) -> None:
        try:
            if options["gold"]:
                result = model_version_evaluate_gold_named(name=options["model"])
            else:
                texts, labels = labelled_csv_read(options["data"])
                result = model_evaluate(model_name=options["model"], texts=texts, labels=labels)
        except StarlingError as exc:
            raise CommandError(str(exc)) from None
        if not result["n"]:
            raise CommandError("The gold set is empty: verify reviews in the admin first (action “Verify label”).")
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"model {result['model']}: n={result['n']}")
        self.stdout.write(f"accuracy {result['accuracy']:.4f}   macro-F1 {result['macro_f1']:.4f}")
        self.stdout.write(f"{'label':<8} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}")
        for label, row in result["per_class"].items():
            self.stdout.write(
                f"{label:<8} {row['precision']:>9.4f} {row['recall']:>7.4f} {row['f1']:>7.4f} {row['support']:>8}"
            )
        self.stdout.write("confusion (rows true, columns predicted; " + ", ".join(result["labels"]) + "):")
        for label, row in zip(result["labels"], result["confusion"], strict=True):
            self.stdout.write(f"  {label:<8} " + " ".join(f"{n:>6}" for n in row))
