"""Served model vs the seed-style reference: latency at batch 1 (50/200/1,000 characters), batch-32 throughput.

Both paths run in this process, alternating (and alternating which goes first), on real review
texts of the sample cut to length. `p50/p50` is seed p50 over served p50 (served p50 also counts
extra served-only calls); `pairs` is the median of the per-pair ratios, where each served call
follows or precedes a seed call that has just swept the caches.
The served path is what `ml.inference` runs for a text the LRU cache has not seen: clean, encode,
network, softmax, the prediction object. Weights do not change the timing; `--checkpoint` loads a
trained served model, `--shipped` the default model shipped in ml/default_model/ (what a fresh
install serves), otherwise a `fasttext` model is trained for one epoch here.

    .venv/bin/python bench/ml_inference.py [--checkpoint media/models/NAME.pt | --shipped] [--repeats 15]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
DATA = Path(os.environ.get("STARLING_SHARED_DATA", ROOT.parent / "shared" / "data"))

import django  # noqa: E402

django.setup()

import torch  # noqa: E402
from django.conf import settings  # noqa: E402

from bench.ml_seed import seed_predict  # noqa: E402
from ml.checkpoint import checkpoint_load  # noqa: E402
from ml.cleaning import clean_text  # noqa: E402
from ml.config import TrainingOptions  # noqa: E402
from ml.data import dataset_from_rows  # noqa: E402
from ml.model import CharCNN, CharCNNConfig  # noqa: E402
from ml.prediction import prediction_from_probabilities  # noqa: E402
from ml.train import train_model  # noqa: E402
from reviews.labels import LABELS  # noqa: E402


def served_predict(model, texts: list[str]) -> list[dict]:
    cleaned = [clean_text(text) for text in texts]
    rows = model.probabilities(cleaned, batch_size=32)
    return [prediction_from_probabilities(dict(zip(LABELS, row.tolist(), strict=True)), "served") for row in rows]


def texts_of_length(texts: list[str], length: int, count: int) -> list[str]:
    long_enough = [t for t in texts if len(t) >= length]
    if len(long_enough) < count:  # join reviews to reach the length
        joined = " ".join(texts)
        long_enough = [joined[i * length : (i + 1) * length] for i in range(count)]
    return [t[:length] for t in long_enough[:count]]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--shipped", action="store_true", help="time the shipped default model")
    parser.add_argument("--repeats", type=int, default=15, help="seed-style calls per length (each is slow)")
    args = parser.parse_args()
    torch.set_num_threads(settings.TORCH_THREADS)
    rows = [
        (str(i), r["text"], r["label"])
        for i, r in enumerate(csv.DictReader((DATA / "trustpilot_reviews_sample.csv").open()))
    ]
    texts = [text for _, text, _ in rows]
    if args.shipped:
        from ml.shipped import shipped_model

        model = shipped_model()
    elif args.checkpoint:
        model = checkpoint_load(args.checkpoint)
    else:
        splits = dataset_from_rows(rows, seed=1234).splits
        model = train_model(options=TrainingOptions(epochs=1), splits=splits, checkpoint_path=None).model
    torch.manual_seed(0)
    seed_network = CharCNN(CharCNNConfig()).eval()
    print(
        f"cores {os.cpu_count()}, torch threads {torch.get_num_threads()} (TORCH_THREADS), served {model.architecture}"
    )
    print(
        f"{'chars':>6} {'seed p50 ms':>11} {'seed p95':>9} {'served p50 ms':>13} {'served p95':>10} "
        f"{'p50/p50':>8} {'pairs':>6}"
    )
    for length in (50, 200, 1000):
        sample = texts_of_length(texts, length, args.repeats * 10)
        seed_times, served_times, ratios = [], [], []
        served_predict(model, sample[:2])
        seed_predict(seed_network, sample[0])
        for i in range(args.repeats):
            for first in ("seed", "served") if i % 2 else ("served", "seed"):  # alternate the order
                started = time.perf_counter()
                if first == "seed":
                    seed_predict(seed_network, sample[i])
                    seed_s = time.perf_counter() - started
                else:
                    served_predict(model, [sample[i]])
                    served_s = time.perf_counter() - started
            seed_times.append(seed_s)
            served_times.append(served_s)
            ratios.append(seed_s / served_s)
        for text in sample[args.repeats :]:  # more served-only samples for a steadier p95
            started = time.perf_counter()
            served_predict(model, [text])
            served_times.append(time.perf_counter() - started)
        print(
            f"{length:>6} {statistics.median(seed_times) * 1e3:>11.2f} {percentile(seed_times, 0.95) * 1e3:>9.2f} "
            f"{statistics.median(served_times) * 1e3:>13.3f} {percentile(served_times, 0.95) * 1e3:>10.3f} "
            f"{statistics.median(seed_times) / statistics.median(served_times):>7.1f}x "
            f"{statistics.median(ratios):>5.1f}x"
        )
    batch = texts_of_length(texts, 200, 32 * 5)
    served_rates, seed_rates = [], []
    for i in range(3):
        chunk = batch[i * 32 : (i + 1) * 32]
        started = time.perf_counter()
        served_predict(model, chunk)
        served_rates.append(32 / (time.perf_counter() - started))
        started = time.perf_counter()
        for text in chunk:
            seed_predict(seed_network, text)
        seed_rates.append(32 / (time.perf_counter() - started))
    print(
        f"batch of 32 x 200 chars: served {statistics.median(served_rates):.0f} texts/s, "
        f"seed-style (one at a time, as the seed served) {statistics.median(seed_rates):.1f} texts/s, "
        f"ratio {statistics.median(served_rates) / statistics.median(seed_rates):.0f}x"
    )


if __name__ == "__main__":
    main()
