"""How well the label audit finds flipped labels, beside a TF-IDF + logistic-regression baseline.

Reads ../shared/data/trustpilot_reviews_sample.csv directly (no database), flips a fraction of its
labels (8 % by default) at random to another class with a fixed seed, runs the audit's out-of-fold
confident learning (ml.label_noise: fastText combined with TF-IDF + logistic regression, or the network
alone with --network-only) and the same ranking over TF-IDF + logistic-regression out-of-fold
probabilities alone (the baseline), and reports, for each, how many of the first K suspects (K = the
number flipped) are flipped rows ("precision at K"), how many suspects there are, and the time taken.

    .venv/bin/python bench/label_audit.py [--flip 0.08] [--flip-seed 7] [--folds 5] [--seeds 1234,1235,1236]
        [--passes 2] [--network-only] [--skip-baseline] [--json OUT] [--save OUT.npz]
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

from ml.config import TrainingOptions  # noqa: E402
from ml.label_noise import label_noise_find, linear_out_of_fold_probabilities, rank_suspects  # noqa: E402
from reviews.labels import LABELS  # noqa: E402


def flipped_labels(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(noisy labels, indices flipped): `fraction` of the rows moved to one of the other classes at random."""
    rng = np.random.default_rng(seed)
    flipped = np.sort(rng.choice(len(labels), size=round(len(labels) * fraction), replace=False))
    noisy = labels.copy()
    noisy[flipped] = (labels[flipped] + rng.integers(1, len(LABELS), size=len(flipped))) % len(LABELS)
    return noisy, flipped


def scored(name: str, suspects: list, flipped: np.ndarray, seconds: float) -> dict:
    k = len(flipped)
    top = {suspect.index for suspect in suspects[:k]}
    found = {suspect.index for suspect in suspects}
    flipped_set = set(flipped.tolist())
    return {
        "method": name,
        "k": k,
        "precision_at_k": round(len(top & flipped_set) / k, 4),
        "suspects": len(suspects),
        "flipped_among_all_suspects": round(len(found & flipped_set) / k, 4),
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flip", type=float, default=0.08)
    parser.add_argument("--flip-seed", type=int, default=7)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--seeds", default="1234,1235,1236", help="comma-separated training seeds to average (the audit's default: 3)"
    )
    parser.add_argument("--architecture", default="fasttext")
    parser.add_argument("--passes", type=int, default=2, help="2: a second pass trains without the first's doubts")
    parser.add_argument(
        "--network-only", action="store_true", help="the audit without the TF-IDF + logistic-regression family"
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--json", default="")
    parser.add_argument(
        "--save",
        default="",
        help="save the out-of-fold probabilities (combined, and each pass's families) to this .npz",
    )
    args = parser.parse_args()

    with (DATA / "trustpilot_reviews_sample.csv").open(encoding="utf-8") as file:
        rows = [(row["text"], row["label"]) for row in csv.DictReader(file)]
    texts = [text for text, _ in rows]
    labels = np.array([LABELS.index(label) for _, label in rows], dtype=np.int64)
    noisy, flipped = flipped_labels(labels, args.flip, args.flip_seed)
    seeds = tuple(int(seed) for seed in args.seeds.split(","))
    print(
        f"{len(texts)} reviews, {len(flipped)} labels flipped (seed {args.flip_seed}); {args.folds} folds, "
        f"seeds {seeds}; torch threads {torch.get_num_threads()}",
        flush=True,
    )
    results = []
    if not args.skip_baseline:
        started = time.perf_counter()
        probabilities = linear_out_of_fold_probabilities(texts, noisy, folds=args.folds, seed=seeds[0])
        _, suspects = rank_suspects(probabilities, noisy, texts)
        results.append(scored("tfidf+logreg", suspects, flipped, time.perf_counter() - started))
        print(json.dumps(results[-1]), flush=True)
    audit = label_noise_find(
        texts,
        noisy,
        options=TrainingOptions(architecture=args.architecture),
        folds=args.folds,
        seeds=seeds,
        passes=args.passes,
        linear=not args.network_only,
        report=lambda progress, message: print(f"  {progress:5.0%} {message}", file=sys.stderr, flush=True),
    )
    method = f"audit ({args.architecture}{'' if args.network_only else ' + tfidf/logreg'})"
    results.append(scored(method, audit.suspects, flipped, audit.seconds))
    print(json.dumps(results[-1]), flush=True)
    if args.save:
        families = {
            f"{name}_{number}": array for number, kept in enumerate(audit.passes, 1) for name, array in kept.items()
        }
        np.savez(args.save, probabilities=audit.probabilities, noisy=noisy, flipped=flipped, labels=labels, **families)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
