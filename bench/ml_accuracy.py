"""Accuracy of every architecture beside TF-IDF + logistic regression and the lexicon, on one split.

Reads ../shared/data/trustpilot_reviews_sample.csv directly (no database), splits it the way
`manage.py train` splits the database (ml.data.dataset_from_rows: de-duplicated, stratified 80/10/10,
seed 1234), trains each model on train, picks by validation, and reports test accuracy and macro-F1.
Then checks the suggested rating against real star ratings (the English reviews in
trustpilot_pages/expected.json).

    .venv/bin/python bench/ml_accuracy.py [--architectures fasttext,cnn,charcnn] [--charcnn-epochs 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("STARLING_SHARED_DATA", ROOT.parent / "shared" / "data"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ml import lexicon  # noqa: E402
from ml.config import TrainingOptions  # noqa: E402
from ml.data import dataset_from_rows  # noqa: E402
from ml.metrics import classification_report  # noqa: E402
from ml.prediction import score_from_probabilities, suggested_rating_from_score  # noqa: E402
from ml.train import train_model  # noqa: E402
from reviews.labels import LABELS  # noqa: E402


def tfidf_logreg(splits) -> tuple[dict, dict]:
    """Word 1-2-grams + character 2-5-grams, sublinear TF-IDF, logistic regression; C chosen on validation."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
    words.fit(splits["train"].texts)
    chars.fit(splits["train"].texts)

    def features(split):
        return hstack([words.transform(splits[split].texts), chars.transform(splits[split].texts)]).tocsr()

    train, val, test = features("train"), features("validation"), features("test")
    best = None
    for c in (1.0, 3.0, 10.0):
        model = LogisticRegression(C=c, max_iter=3000).fit(train, splits["train"].labels)
        f1 = classification_report(splits["validation"].labels, model.predict(val))["macro_f1"]
        if best is None or f1 > best[0]:
            best = (f1, c, model)
    report = classification_report(splits["test"].labels, best[2].predict(test))
    return report, {"C": best[1], "val_macro_f1": best[0]}


def lexicon_report(splits) -> dict:
    probabilities = [lexicon.lexicon_probabilities(text) for text in splits["test"].texts]
    predicted = [LABELS.index(max(p, key=p.get)) for p in probabilities]
    return classification_report(splits["test"].labels, predicted)


def star_agreement(model) -> dict:
    """Suggested rating against real stars on English reviews with ratings (trustpilot_pages).

    `bands`: ml.prediction's mapping (the tutorial's min(int(score*5+1), 5) on score = P(good) + P(average)/2);
    `expected`: an alternative, the expected stars with each class at its mean star (1.5, 3, 4.5), rounded.
    """
    path = DATA / "trustpilot_pages" / "expected.json"
    if not path.is_file() or model is None:
        return {}
    reviews = [r for page in json.loads(path.read_text()).values() for r in page["reviews"] if r["language"] == "en"]
    texts = [f"{r.get('title') or ''}. {r['text']}".strip(". ") for r in reviews]
    stars = np.array([r["rating"] for r in reviews])
    rows = model.probabilities(texts)
    scores = np.array([score_from_probabilities(dict(zip(LABELS, row, strict=True))) for row in rows])
    mappings = {
        "bands": np.array([suggested_rating_from_score(s) for s in scores]),
        "expected": np.clip(np.rint(rows @ np.array([1.5, 3.0, 4.5])), 1, 5).astype(int),
    }
    out = {"n": len(reviews), "star_counts": {int(s): int((stars == s).sum()) for s in range(1, 6)}}
    out["label_accuracy"] = round(
        float(np.mean([LABELS[row.argmax()] == _label(s) for row, s in zip(rows, stars, strict=True)])), 3
    )
    for name, suggested in mappings.items():
        out[name] = {
            "exact": round(float((suggested == stars).mean()), 3),
            "within_1": round(float((abs(suggested - stars) <= 1).mean()), 3),
            "mae": round(float(abs(suggested - stars).mean()), 3),
        }
    return out


def _label(stars: int) -> str:
    return "bad" if stars <= 2 else "average" if stars == 3 else "good"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architectures", default="fasttext,cnn,charcnn")
    parser.add_argument("--charcnn-epochs", type=int, default=2, help="charcnn is slow on 2 shared cores")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--json", default="")
    parser.add_argument("--save-served", default="", help="write the fasttext checkpoint here (for ml_inference)")
    parser.add_argument("--stars-only", default="", help="only the star check, for this checkpoint")
    args = parser.parse_args()
    if args.stars_only:
        from ml.checkpoint import checkpoint_load

        print(star_agreement(checkpoint_load(args.stars_only)))
        return

    rows = [
        (str(i), r["text"], r["label"])
        for i, r in enumerate(csv.DictReader((DATA / "trustpilot_reviews_sample.csv").open()))
    ]
    dataset = dataset_from_rows(rows, seed=args.seed, source={"source": "trustpilot_reviews_sample.csv"})
    print(f"cores {os.cpu_count()}, torch threads {torch.get_num_threads()}; split {dataset.description['sizes']}")
    results: dict[str, dict] = {}
    started = time.perf_counter()
    report, extra = tfidf_logreg(dataset.splits)
    results["tfidf+logreg"] = {**report, "seconds": round(time.perf_counter() - started, 1), **extra}
    started = time.perf_counter()
    results["lexicon-vader"] = {**lexicon_report(dataset.splits), "seconds": round(time.perf_counter() - started, 1)}
    served = None
    for architecture in args.architectures.split(","):
        epochs = args.charcnn_epochs if architecture == "charcnn" else 0
        started = time.perf_counter()
        result = train_model(
            options=TrainingOptions(architecture=architecture, epochs=epochs, seed=args.seed),
            splits=dataset.splits,
            checkpoint_path=None,
            show_progress=False,
        )
        results[architecture] = {
            **result.metrics["test"],
            "seconds": round(time.perf_counter() - started, 1),
            "best_epoch": result.metrics["best_epoch"],
            "epochs_run": result.metrics["epochs_run"],
            "val_macro_f1": result.metrics["validation"]["macro_f1"],
        }
        if architecture == "fasttext":
            served = result.model
            if args.save_served:
                from ml.checkpoint import checkpoint_save

                checkpoint_save(args.save_served, served)
        print(f"  {architecture}: test macro-F1 {result.metrics['macro_f1']:.4f}", flush=True)

    print(f"\n{'model':<14} {'accuracy':>8} {'macro-F1':>8}  {'F1 bad/average/good':<22} {'train s':>8}")
    for name, r in results.items():
        per = "/".join(f"{r['per_class'][label]['f1']:.2f}" for label in LABELS)
        print(f"{name:<14} {r['accuracy']:>8.4f} {r['macro_f1']:>8.4f}  {per:<22} {r['seconds']:>8}")
    stars = star_agreement(served)
    if stars:
        print(f"\nsuggested_rating vs real stars (English reviews in trustpilot_pages, n={stars['n']}): {stars}")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "stars": stars, "split": dataset.description}))


if __name__ == "__main__":
    main()
