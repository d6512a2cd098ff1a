"""charcnn training samples/s vs the seed-style loader on the same network; wall time of the default `train`.

Samples/s: both paths train the same network (same initial weights, batch 64, AdamW at the same
learning rate) on batches of the 4,800-review sample, alternating batch by batch. Ours, as `train`
runs it: texts encoded once to uint8 indices, batches of similar length, the first convolution of the
one-hot input as a lookup of weight columns, each layer computing only the positions that see text
(the padded tail's column, and its share of the first linear layer, computed once: the same outputs
and gradients as the full network), AdamW's fused kernel. Seed-style: a DataLoader
whose Dataset builds each 69 x 1014 one-hot matrix in Python, full width, torch's default AdamW.

Default train (`--full`): a fresh SQLite database in a temporary folder, `import_reviews` of the
sample, then `manage.py train` timed end to end (the default architecture, as `--activate` would use).

    .venv/bin/python bench/ml_training.py [--batches N] [--full]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("STARLING_SHARED_DATA", ROOT.parent / "shared" / "data"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from bench.ml_seed import SeedDataset, seed_forward  # noqa: E402
from ml.architectures import ARCHITECTURE_SPECS  # noqa: E402
from ml.data import dataset_from_rows  # noqa: E402
from ml.model import CharCNN  # noqa: E402
from ml.train import batches, optimizers  # noqa: E402


def step(network, optimizer, logits_of, inputs, target) -> None:
    loss = torch.nn.functional.cross_entropy(logits_of(inputs), target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def samples_per_second(batch_count: int) -> None:
    rows = [
        (str(i), r["text"], r["label"])
        for i, r in enumerate(csv.DictReader((DATA / "trustpilot_reviews_sample.csv").open()))
    ]
    train = dataset_from_rows(rows, seed=1234).splits["train"]
    spec = ARCHITECTURE_SPECS["charcnn"]
    torch.manual_seed(0)
    ours = CharCNN(spec.config)
    seed = CharCNN(spec.config)
    seed.load_state_dict(ours.state_dict())
    (ours_opt,) = optimizers(ours, spec)  # what `train` uses: AdamW, torch's fused kernel
    seed_opt = torch.optim.AdamW(seed.parameters(), lr=spec.learning_rate, weight_decay=spec.weight_decay)

    encoded = [spec.encoding.encode(text) for text in train.texts]  # once per training run
    lengths = np.array([len(item) for item in encoded])
    rng = np.random.default_rng(0)
    plan = batches(lengths, 64, rng, by_length=True)
    count = len(plan) if batch_count <= 0 else min(batch_count, len(plan))
    picked = [plan[i] for i in rng.choice(len(plan), size=count, replace=False)]
    loader = iter(DataLoader(SeedDataset(train.texts, train.labels), batch_size=64, shuffle=True))
    ours_times, seed_times, ours_sizes, seed_sizes = [], [], [], []
    for index in picked:
        started = time.perf_counter()
        inputs = spec.encoding.collate([encoded[i] for i in index])
        step(ours, ours_opt, lambda x: ours(*x), inputs, torch.from_numpy(train.labels[index]))
        ours_times.append(time.perf_counter() - started)
        ours_sizes.append(len(index))
        started = time.perf_counter()
        one_hot, target = next(loader)
        step(seed, seed_opt, lambda x: seed_forward(seed, x), one_hot, target)
        seed_times.append(time.perf_counter() - started)
        seed_sizes.append(len(target))  # an epoch's last batch is smaller
    ours_rate = sum(ours_sizes) / sum(ours_times)
    seed_rate = sum(seed_sizes) / sum(seed_times)
    ratios = [
        (seed_s / seed_n) / (ours_s / ours_n)
        for seed_s, seed_n, ours_s, ours_n in zip(seed_times, seed_sizes, ours_times, ours_sizes, strict=True)
    ]
    longest = [min(spec.config.length, int(lengths[index].max())) for index in picked]
    print(f"cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, {count} batches of (up to) 64")
    print(
        f"the longest text of these batches has on average {statistics.mean(longest):.0f} of "
        f"{spec.config.length} characters (ours computes the positions that see text; seed-style all)"
    )
    print(
        f"charcnn training: ours {ours_rate:.1f} samples/s, seed-style {seed_rate:.1f} samples/s, "
        f"ratio {ours_rate / seed_rate:.1f}x (median of per-batch ratios {statistics.median(ratios):.1f}x; "
        f"encoding all {len(encoded)} texts once took part of setup, not timed per batch)"
    )


def default_train_wall_time() -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "SQLITE_PATH": str(Path(folder) / "bench.sqlite3"),
            "MEDIA_ROOT": str(Path(folder) / "media"),
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        started = time.perf_counter()
        subprocess.run(
            [*manage, "import_reviews", str(DATA / "trustpilot_reviews_sample.csv")],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        imported = time.perf_counter() - started
        started = time.perf_counter()
        done = subprocess.run([*manage, "train", "-v0"], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        trained = time.perf_counter() - started
        print(f"import_reviews {imported:.1f} s; default `manage.py train` {trained:.1f} s wall (limit 600 s)")
        print(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=0, help="batches to time (default 0: a whole epoch)")
    parser.add_argument("--full", action="store_true", help="also time the default train end to end")
    args = parser.parse_args()
    samples_per_second(args.batches)
    if args.full:
        default_train_wall_time()


if __name__ == "__main__":
    main()
