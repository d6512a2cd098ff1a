"""The model a fresh install serves until staff activate their own: `fasttext` trained on the public sample.

It lives in the repository (`ml/default_model/`) as the folded serving tables of the trained network,
not as a checkpoint. In eval mode the `fasttext` logits are linear in its n-gram buckets
(`FastText.bucket_scores`): each bucket folds to one score per class, idf·W·E[bucket], and a text's
logits are Σ tfᵢ·folded[idᵢ] / √(Σ tfᵢ²·idf[idᵢ]²) + bias + W_lexicon·lexicon. So the file holds
what scoring reads and nothing else: the folded scores in float16 (3 numbers per bucket instead of a
64-number embedding), each bucket's document frequency (the idf is recomputed from it exactly as
`FastText.fit_idf` computes it), the bias and the lexicon weights, compressed with xz. Every bucket is
kept, the ones no training text reached too: the full network scores unseen n-grams with them, and
keeping them keeps the probabilities within float16 rounding of the full model's.

`manage.py build_default_model` trains the network (`ml.train`, fixed seed and thread count), folds
it, checks that the folded model gives the full model's labels, and writes the file with its
provenance. `shipped_model()` is what `ml.inference` serves while no version is active; it logs a
warning and returns None (the lexicon answers) when the file is missing or unusable.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import lzma
import os
import platform
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ml.checkpoint import CheckpointError, SentimentModel
from ml.encoding import encoding_from_description
from ml.model import FastTextConfig, config_from_dict, config_to_dict
from reviews.labels import LABELS

if TYPE_CHECKING:
    from ml.data import Dataset

logger = logging.getLogger(__name__)

FORMAT = "starling-folded-fasttext/1"
MAGIC = FORMAT.encode() + b"\n"
SHIPPED_DIR = Path(__file__).resolve().parent / "default_model"
MODEL_FILE = "model.xz"
PROVENANCE_FILE = "provenance.json"
NAME_PREFIX = "default-fasttext-"
OFF = "off"
BUILD_SEED = 1234  # the seed `manage.py train` uses by default: the same split and the same network
BUILD_THREADS = 1  # torch threads while training: part of what makes a rebuild give the same bytes
MIN_AGREEMENT = 0.99  # a folded model that gives the full model's label less often than this is not written


def idf_from_frequency(frequency: torch.Tensor, documents: int) -> torch.Tensor:
    """Smoothed idf from each bucket's document frequency: the very operations of `FastText.fit_idf`."""
    return torch.log((1.0 + documents) / (1.0 + frequency.float())) + 1.0


class FoldedFastText(nn.Module):
    """The eval-mode `fasttext` network as its folded tables: `FastText`'s scoring path, nothing to train.

    `bucket_scores()` answers as `FastText.bucket_scores` does, so code that reads the tables (to
    explain a score, say) works with either network. The folded scores hold float16 values (widened
    to float32 for scoring), so `folded.half()` gives back exactly what the file stores.
    """

    def __init__(
        self,
        config: FastTextConfig,
        *,
        folded: torch.Tensor,
        document_frequency: torch.Tensor,
        documents: int,
        bias: torch.Tensor,
        lexicon_weight: torch.Tensor,
    ) -> None:
        super().__init__()
        self.config = config
        self.documents = documents  # training texts the document frequencies were counted over
        idf = idf_from_frequency(document_frequency, documents)
        self.register_buffer("folded", folded.half().float().contiguous())  # [buckets, classes]
        self.register_buffer("document_frequency", document_frequency.to(torch.int32))
        self.register_buffer("idf", idf)
        self.register_buffer("idf_squared", (idf**2)[:, None].contiguous())
        self.register_buffer("bias", bias.float())
        self.register_buffer("lexicon_weight", lexicon_weight.float())  # [lexicon features, classes], scaled
        self.eval()

    def bucket_scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """idf·W·E [buckets, classes], idf² [buckets, 1], scaled W_lexiconᵀ: what `FastText.bucket_scores` returns."""
        return self.folded, self.idf_squared, self.lexicon_weight

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor, bag: torch.Tensor, tf: torch.Tensor, lexicon):
        """Logits for an `NgramEncoding.collate` batch, computed as `FastText` computes them in eval mode."""
        raw = F.embedding_bag(ids, self.folded, offsets, mode="sum", per_sample_weights=tf)
        squares = F.embedding_bag(ids, self.idf_squared, offsets, mode="sum", per_sample_weights=tf * tf)
        logits = (raw / squares.sqrt_().clamp_(min=1e-12)).add_(self.bias)
        if self.config.lexicon_features:
            return torch.addmm(logits, lexicon, self.lexicon_weight)
        return logits

    def tables(self) -> dict[str, np.ndarray]:
        """The arrays a file stores, in file order and dtype (folded by class: each column compresses better)."""
        return {
            "folded": self.folded.t().half().numpy().astype("<f2"),
            "document_frequency": self.document_frequency.numpy().astype("<i4"),
            "bias": self.bias.numpy().astype("<f4"),
            "lexicon_weight": self.lexicon_weight.numpy().astype("<f4"),
        }


def _document_frequency(idf: torch.Tensor, documents: int) -> torch.Tensor:
    """Each bucket's document frequency, read back from the fitted idf (checked to give the same idf)."""
    recovered = np.rint((1.0 + documents) / np.exp(idf.double().numpy() - 1.0) - 1.0).astype(np.int64)
    frequency = torch.from_numpy(np.clip(recovered, 0, documents))
    if not torch.equal(idf_from_frequency(frequency, documents), idf):
        raise ValueError("the model's idf table is not the smoothed idf of a document count")
    return frequency


def folded_model(model: SentimentModel, documents: int) -> SentimentModel:
    """The folded, float16-rounded twin of a trained `fasttext` model (`documents`: its training texts)."""
    if model.architecture != "fasttext":
        raise ValueError(f"only a fasttext model folds into serving tables, not {model.architecture}")
    network = model.network.eval()
    folded, _, lexicon_weight = network.bucket_scores()
    twin = FoldedFastText(
        network.config,
        folded=folded,
        document_frequency=_document_frequency(network.idf, documents),
        documents=documents,
        bias=network.out.bias.detach(),
        lexicon_weight=lexicon_weight,
    )
    return SentimentModel("fasttext", twin, model.encoding, model.labels, dict(model.meta))


def folded_file_bytes(model: SentimentModel, provenance: dict) -> bytes:
    """The file for a model made by `folded_model`: magic line, then xz of (header length, JSON header, arrays).

    No time stamp or path goes in, so the same model and provenance always give the same bytes.
    """
    network = model.network
    arrays = network.tables()
    header = {
        "format": FORMAT,
        "architecture": model.architecture,
        "config": config_to_dict(network.config),
        "encoding": model.encoding.describe(),
        "labels": list(model.labels),
        "documents": network.documents,
        "arrays": [
            {"name": name, "dtype": array.dtype.str, "shape": list(array.shape)} for name, array in arrays.items()
        ],
        "provenance": provenance,
    }
    encoded = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    payload = struct.pack("<I", len(encoded)) + encoded + b"".join(array.tobytes() for array in arrays.values())
    return MAGIC + lzma.compress(payload, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=9)


def model_name(data: bytes) -> str:
    """The name a shipped file serves under: the prefix and the start of the file's SHA-256."""
    return NAME_PREFIX + hashlib.sha256(data).hexdigest()[:8]


def folded_model_read(path: Path | str) -> SentimentModel:
    """Load a file written by `folded_file_bytes`; raise CheckpointError saying why it cannot be used."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"The default model file {path} cannot be read ({exc.strerror or exc}).") from None
    if not data.startswith(MAGIC):
        raise CheckpointError(f"The file {path} is not a Starling default model ({FORMAT}).")
    try:
        payload = lzma.decompress(data[len(MAGIC) :], format=lzma.FORMAT_XZ)
        (length,) = struct.unpack_from("<I", payload)
        header = json.loads(payload[4 : 4 + length])
        offset, tables = 4 + length, {}
        for entry in header["arrays"]:
            dtype = np.dtype(entry["dtype"])
            count = int(np.prod(entry["shape"]))
            array = np.frombuffer(payload, dtype=dtype, count=count, offset=offset).reshape(entry["shape"])
            tables[entry["name"]] = torch.from_numpy(array.astype(dtype.newbyteorder("=")))
            offset += count * dtype.itemsize
        if offset != len(payload):
            raise ValueError(f"{len(payload) - offset} bytes left after the arrays")
        config = config_from_dict("fasttext", header["config"])
        if tuple(header["labels"]) != LABELS or tuple(tables["folded"].shape) != (len(LABELS), config.buckets):
            raise ValueError(f"labels {header['labels']} over {config.buckets} buckets do not match the tables")
        network = FoldedFastText(
            config,
            folded=tables["folded"].t(),
            document_frequency=tables["document_frequency"],
            documents=int(header["documents"]),
            bias=tables["bias"],
            lexicon_weight=tables["lexicon_weight"],
        )
        encoding = encoding_from_description(header["encoding"])
        model = SentimentModel(
            "fasttext", network, encoding, LABELS, {"name": model_name(data), **header["provenance"]}
        )
    except Exception as exc:
        raise CheckpointError(f"The default model file {path} is corrupt ({type(exc).__name__}: {exc}).") from None
    return model


def shipped_model_path() -> Path | None:
    """The file to serve while no version is active (settings.DEFAULT_MODEL), or None when it is "off"."""
    from django.conf import settings

    value = str(getattr(settings, "DEFAULT_MODEL", "") or "").strip()
    if value.lower() == OFF:
        return None
    if not value:
        return SHIPPED_DIR / MODEL_FILE
    path = Path(value)
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


@lru_cache(maxsize=2)
def _loaded(path: str, size: int, modified_ns: int) -> SentimentModel:
    """One load per file version and process (a failure raises, and is not remembered)."""
    model = folded_model_read(path)
    model.probabilities(["warm up"])  # builds what scoring needs now, not on a visitor's keystroke
    return model


def shipped_model() -> SentimentModel | None:
    """The shipped default model, loaded once per process; None (with a warning) when it is off or unusable."""
    path = shipped_model_path()
    if path is None:
        return None
    try:
        status = path.stat()
        return _loaded(str(path), status.st_size, status.st_mtime_ns)
    except FileNotFoundError:
        logger.warning("The default model file %s is missing; serving the lexicon until a model is activated.", path)
    except CheckpointError as exc:
        logger.warning("%s Serving the lexicon until a model is activated.", exc)
    except Exception:
        logger.exception("The default model %s fails while scoring; serving the lexicon.", path)
    return None


@dataclass
class DefaultModelBuild:
    """What `default_model_build` wrote: the model file and its provenance (also returned as a dict)."""

    model_path: Path
    provenance_path: Path
    provenance: dict


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "vaderSentiment": importlib.metadata.version("vaderSentiment"),
    }


def _atomic_write(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def labelled_csv_dataset(data: Path, *, seed: int) -> Dataset:
    """A labelled CSV read as `import_reviews` reads it, split as `train` splits the database."""
    from ml.data import dataset_from_rows
    from reviews.importing import labelled_rows_read

    rows = labelled_rows_read(data)
    source = {"source": "csv", "file": data.name, "sha256": _file_sha256(data), "rows_read": len(rows)}
    numbered = ((str(number), text, label) for number, (text, label) in enumerate(rows))
    return dataset_from_rows(numbered, seed=seed, source=source)


def default_model_build(
    *,
    data: Path | str,
    output: Path | str = SHIPPED_DIR,
    seed: int = BUILD_SEED,
    threads: int = BUILD_THREADS,
    show_progress: bool = False,
) -> DefaultModelBuild:
    """Train the default architecture on a labelled CSV, fold it and write the model file and provenance.json.

    The CSV is read as `import_reviews` reads it and split as `train` splits the database (de-duplicated,
    stratified 80/10/10 with `seed`): trained on train, the epoch chosen on validation, scored on test.
    Same file, seed, thread count and library versions: the same bytes.
    """
    from ml.architectures import DEFAULT_ARCHITECTURE
    from ml.config import TrainingOptions
    from ml.lexicon import lexicon_probabilities
    from ml.metrics import classification_report
    from ml.train import train_model

    data, output = Path(data), Path(output)
    dataset = labelled_csv_dataset(data, seed=seed)
    splits = dataset.splits
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        options = TrainingOptions(architecture=DEFAULT_ARCHITECTURE, seed=seed)
        trained = train_model(
            options=options,
            splits=splits,
            checkpoint_path=None,
            name="default",
            dataset_description=dataset.description,
            show_progress=show_progress,
        )
        compact = folded_model(trained.model, documents=len(splits["train"]))
        labels = {
            name: (trained.model.probabilities(split.texts).argmax(1), compact.probabilities(split.texts).argmax(1))
            for name, split in splits.items()
        }
    finally:
        torch.set_num_threads(previous_threads)
    full_labels, compact_labels = (np.concatenate(column) for column in zip(*labels.values(), strict=True))
    agreement = {
        "test": round(float((labels["test"][0] == labels["test"][1]).mean()), 4),
        "all_rows": round(float((full_labels == compact_labels).mean()), 4),
    }
    if min(agreement.values()) < MIN_AGREEMENT:
        raise CheckpointError(
            f"The folded model gives the full model's label on only {agreement} of the rows; nothing was written."
        )
    test = splits["test"]
    lexicon_labels = [max(LABELS, key=lexicon_probabilities(text).get) for text in test.texts]
    provenance = {
        "architecture": DEFAULT_ARCHITECTURE,
        "data": dataset.description,
        "command": f"python manage.py build_default_model --data {data.name} --seed {seed} --threads {threads}",
        "seed": seed,
        "threads": threads,
        "versions": _versions(),
        "hyperparameters": trained.hyperparameters,
        "held_out": "test split: 10% of each class, stratified with the seed (ml.data.dataset_from_rows); "
        "validation (another 10%) chose the epoch",
        "metrics": {
            "full_model": trained.metrics["test"],
            "shipped_model": classification_report(test.labels, labels["test"][1]),
            "lexicon": classification_report(test.labels, [LABELS.index(label) for label in lexicon_labels]),
            "validation_macro_f1": trained.metrics["validation"]["macro_f1"],
            "best_epoch": trained.metrics["best_epoch"],
            "label_agreement_full_vs_shipped": agreement,
        },
        "history": [
            {key: value for key, value in entry.items() if key not in ("seconds", "samples_per_s")}
            for entry in trained.history
        ],
    }
    file_bytes = folded_file_bytes(compact, provenance)
    output.mkdir(parents=True, exist_ok=True)
    model_path, provenance_path = output / MODEL_FILE, output / PROVENANCE_FILE
    _atomic_write(model_path, file_bytes)
    described = {
        "name": model_name(file_bytes),
        "file": MODEL_FILE,
        "size_bytes": len(file_bytes),
        "sha256": hashlib.sha256(file_bytes).hexdigest(),
        "format": FORMAT,
        **provenance,
    }
    _atomic_write(provenance_path, (json.dumps(described, indent=2, sort_keys=True) + "\n").encode())
    return DefaultModelBuild(model_path, provenance_path, described)
