"""The training loop: tensors and paths in, a checkpoint and its metrics out. No Django here.

Deterministic for a seed (same seed, same data, same thread count → same weights), classes balanced
by weighting the loss, early stopping on validation macro-F1, a tqdm bar with the running loss, a
history entry per epoch, and a self-describing checkpoint (see ml.checkpoint). Texts are encoded
once into small integer arrays; one-hot or n-gram tensors exist only for the batch in hand.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ml.architectures import ARCHITECTURE_SPECS, Architecture
from ml.checkpoint import SentimentModel, checkpoint_save
from ml.config import TrainingOptions
from ml.data import LabelledTexts
from ml.metrics import classification_report
from ml.model import build_network, config_to_dict
from reviews.labels import LABELS

Report = Callable[..., None]


@dataclass
class TrainResult:
    model: SentimentModel
    hyperparameters: dict
    history: list[dict]
    metrics: dict
    checkpoint_path: Path | None


def resolve(options: TrainingOptions) -> Architecture:
    """The architecture's defaults, overridden by the options that were set."""
    spec = ARCHITECTURE_SPECS[options.architecture]
    return replace(
        spec,
        epochs=options.epochs or spec.epochs,
        batch_size=options.batch_size or spec.batch_size,
        learning_rate=options.learning_rate or spec.learning_rate,
    )


def batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator, by_length: bool) -> list[np.ndarray]:
    """Shuffled batches; with `by_length`, texts of similar length share a batch (less padding)."""
    order = rng.permutation(len(lengths))
    if by_length:
        pool = batch_size * 50
        order = np.concatenate(
            [
                chunk[np.argsort(lengths[chunk], kind="stable")]
                for chunk in np.split(order, range(pool, len(order), pool))
            ]
        )
    groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [groups[i] for i in rng.permutation(len(groups))]


def optimizers(network: nn.Module, spec: Architecture) -> list[torch.optim.Optimizer]:
    """AdamW; with "sparse", embedding tables get Adagrad so a step touches only the rows a batch used.

    AdamW runs torch's fused kernel: one pass over each parameter per step instead of a dozen
    elementwise passes, several times faster on charcnn's 11M parameters (docs/PERFORMANCE.md).
    """
    if spec.optimizer != "sparse":
        return [
            torch.optim.AdamW(network.parameters(), lr=spec.learning_rate, weight_decay=spec.weight_decay, fused=True)
        ]
    sparse = [p for m in network.modules() if getattr(m, "sparse", False) for p in m.parameters(recurse=False)]
    sparse_ids = {id(p) for p in sparse}
    dense = [p for p in network.parameters() if id(p) not in sparse_ids]
    return [
        torch.optim.Adagrad(sparse, lr=spec.learning_rate),
        torch.optim.AdamW(dense, lr=1e-2, weight_decay=spec.weight_decay, fused=True),
    ]


def evaluate(model: SentimentModel, encoded: list[np.ndarray], labels: np.ndarray) -> tuple[dict, float]:
    """Classification report and mean cross-entropy for encoded texts."""
    model.network.eval()
    probabilities = model.probabilities_encoded(encoded)
    loss = float(-np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-9, 1.0)).mean())
    return classification_report(labels, probabilities.argmax(axis=1)), loss


def train_model(
    *,
    options: TrainingOptions,
    splits: dict[str, LabelledTexts],
    checkpoint_path: Path | None,
    name: str = "",
    dataset_description: dict | None = None,
    report: Report | None = None,
    show_progress: bool = False,
) -> TrainResult:
    """Train one architecture on splits train/validation/test; write the checkpoint if a path is given."""
    with warnings.catch_warnings():
        # Adagrad on sparse gradients warns about an opt-in invariant check we do not need.
        warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")
        return _train(options, splits, checkpoint_path, name, dataset_description, report, show_progress)


def _train(options, splits, checkpoint_path, name, dataset_description, report, show_progress) -> TrainResult:
    spec = resolve(options)
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    network = build_network(spec.name, spec.config)
    model = SentimentModel(spec.name, network, spec.encoding)

    encoded = {split: model.encode(data.texts) for split, data in splits.items()}
    train_labels = splits["train"].labels
    if hasattr(network, "fit_idf"):
        network.fit_idf([item.ids for item in encoded["train"]])
    lengths = np.array([len(item) for item in encoded["train"]])
    counts = np.bincount(train_labels, minlength=len(LABELS)).astype(np.float64)
    weights = torch.tensor(counts.sum() / (len(LABELS) * np.maximum(counts, 1)), dtype=torch.float32)
    loss_function = nn.CrossEntropyLoss(weight=weights)
    steps = optimizers(network, spec)

    history: list[dict] = []
    best = {"macro_f1": -1.0, "epoch": 0, "state": None, "report": None}
    stale = 0
    for epoch in range(1, spec.epochs + 1):
        network.train()
        started = time.perf_counter()
        total, seen = 0.0, 0
        plan = batches(lengths, spec.batch_size, rng, spec.length_buckets)
        bar = tqdm(plan, desc=f"epoch {epoch}/{spec.epochs}", unit="batch", disable=not show_progress, leave=False)
        every = max(1, len(plan) // 10)
        for number, batch in enumerate(bar, start=1):
            inputs = spec.encoding.collate([encoded["train"][i] for i in batch])
            target = torch.from_numpy(train_labels[batch])
            loss = loss_function(network(*inputs), target)
            for step in steps:
                step.zero_grad(set_to_none=True)
            loss.backward()
            for step in steps:
                step.step()
            total += loss.item() * len(batch)
            seen += len(batch)
            bar.set_postfix(loss=f"{total / seen:.4f}")
            if report and number % every == 0 and number < len(plan):
                done = (epoch - 1 + number / len(plan)) / spec.epochs * 0.95
                report(done, f"Epoch {epoch}/{spec.epochs}: batch {number}/{len(plan)}, loss {total / seen:.4f}")
        seconds = time.perf_counter() - started
        val_report, val_loss = evaluate(model, encoded["validation"], splits["validation"].labels)
        entry = {
            "epoch": epoch,
            "train_loss": round(total / max(seen, 1), 5),
            "val_loss": round(val_loss, 5),
            "val_accuracy": val_report["accuracy"],
            "val_macro_f1": val_report["macro_f1"],
            "seconds": round(seconds, 3),
            "samples_per_s": round(seen / seconds, 1) if seconds else None,
        }
        history.append(entry)
        if show_progress:
            tqdm.write(
                f"epoch {epoch}: loss {entry['train_loss']:.4f}, val loss {entry['val_loss']:.4f}, "
                f"val acc {entry['val_accuracy']:.4f}, val macro-F1 {entry['val_macro_f1']:.4f}"
            )
        if val_report["macro_f1"] > best["macro_f1"]:
            best = {"macro_f1": val_report["macro_f1"], "epoch": epoch, "report": val_report}
            best["state"] = copy.deepcopy(network.state_dict())
            stale = 0
        else:
            stale += 1
        if report:
            report(
                epoch / spec.epochs * 0.95,
                f"Epoch {epoch}/{spec.epochs}: loss {entry['train_loss']:.4f}, "
                f"validation macro-F1 {entry['val_macro_f1']:.4f}",
                history,
            )
        if stale >= options.patience:
            break

    network.load_state_dict(best["state"])
    network.eval()
    test_report, _ = evaluate(model, encoded["test"], splits["test"].labels)
    metrics = {
        "accuracy": test_report["accuracy"],
        "macro_f1": test_report["macro_f1"],
        "test": test_report,
        "validation": best["report"],
        "best_epoch": best["epoch"],
        "epochs_run": len(history),
    }
    hyperparameters = {
        **options.to_params(),
        "epochs": spec.epochs,
        "batch_size": spec.batch_size,
        "learning_rate": spec.learning_rate,
        "weight_decay": spec.weight_decay,
        "threads": torch.get_num_threads(),
        "network": config_to_dict(spec.config),
        "encoding": spec.encoding.describe(),
    }
    model.meta = {
        "name": name,
        "hyperparameters": hyperparameters,
        "dataset": dataset_description or {},
        "metrics": metrics,
        "history": history,
    }
    if checkpoint_path is not None:
        checkpoint_save(checkpoint_path, model)
    if report:
        report(1.0, f"Done: test macro-F1 {metrics['macro_f1']:.4f}, accuracy {metrics['accuracy']:.4f}.", history)
    return TrainResult(model, hyperparameters, history, metrics, checkpoint_path)
