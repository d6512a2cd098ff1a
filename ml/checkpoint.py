"""Self-describing checkpoints and the loaded model that scores texts.

A checkpoint is one `torch.save` file holding plain values only (loaded with `weights_only=True`):
format, architecture, network config, text encoding, label names, hyper-parameters, dataset
description, metrics, history and the weights. Loading needs nothing else.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.errors import StarlingError
from ml.encoding import CharEncoding, NgramEncoding, encoding_from_description
from ml.model import build_network, config_from_dict, config_to_dict
from reviews.labels import LABELS

FORMAT = "starling-sentiment/1"


class CheckpointError(StarlingError):
    """A checkpoint file is missing, unreadable or not a Starling sentiment model."""

    code = "checkpoint_unusable"


@dataclass
class SentimentModel:
    """A network with the encoding it was trained with; turns texts into class probabilities."""

    architecture: str
    network: nn.Module
    encoding: CharEncoding | NgramEncoding
    labels: tuple[str, ...] = LABELS
    meta: dict = field(default_factory=dict)

    def encode(self, texts: list[str]) -> list[np.ndarray]:
        return [self.encoding.encode(text) for text in texts]

    def probabilities_encoded(self, encoded: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Probabilities [N, classes] for encoded texts; batches hold texts of similar length (network in eval mode)."""
        with torch.inference_mode():
            if len(encoded) == 1:  # the typing case: no sorting, no scatter
                return torch.softmax(self.network(*self.encoding.collate(encoded)), dim=1).numpy()
        order = np.argsort([len(item) for item in encoded], kind="stable")
        result = np.zeros((len(encoded), len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                inputs = self.encoding.collate([encoded[i] for i in chunk])
                result[chunk] = torch.softmax(self.network(*inputs), dim=1).numpy()
        return result

    def probabilities(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Class probabilities [N, classes] for raw texts (in the order of `labels`)."""
        return self.probabilities_encoded(self.encode(texts), batch_size)


def _payload(model: SentimentModel) -> dict:
    return {
        "format": FORMAT,
        "architecture": model.architecture,
        "config": config_to_dict(model.network.config),
        "encoding": model.encoding.describe(),
        "labels": list(model.labels),
        "meta": model.meta,
        "state_dict": model.network.state_dict(),
    }


def checkpoint_save_temporary(directory: Path | str, model: SentimentModel) -> Path:
    """Write the model to a new file with a unique temporary name in `directory`; the caller moves it into place.

    The name is unique per call, so two writers (or a writer killed half-way and its retry) never
    share a file; a leftover `.checkpoint-*.tmp` is what a killed writer leaves, never a real checkpoint.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=directory, prefix=".checkpoint-", suffix=".pt.tmp")
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(_payload(model), file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the web process may run as another user
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def checkpoint_move_new(temporary: Path | str, path: Path | str) -> Path:
    """Move a temporary checkpoint onto `path`, which must not exist yet.

    The path is claimed with an exclusive create before the rename, so of two writers aiming at the
    same path one gets FileExistsError (and moves nothing) instead of overwriting the other's file.
    """
    path = Path(path)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    try:
        os.replace(temporary, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def checkpoint_save(path: Path | str, model: SentimentModel) -> Path:
    """Write the model to `path` atomically (a unique temporary file beside it, then a rename), replacing `path`."""
    path = Path(path)
    os.replace(checkpoint_save_temporary(path.parent, model), path)
    return path


def checkpoint_load(path: Path | str) -> SentimentModel:
    """Load a checkpoint written by `checkpoint_save`; raise CheckpointError with the reason."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"The checkpoint file {path} does not exist.")
    try:
        payload = torch.load(io.BytesIO(path.read_bytes()), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"The checkpoint file {path} is unreadable or corrupt ({type(exc).__name__}).") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"The file {path} is not a Starling sentiment checkpoint ({FORMAT}).")
    try:
        architecture = payload["architecture"]
        network = build_network(architecture, config_from_dict(architecture, payload["config"]))
        network.load_state_dict(payload["state_dict"])
        encoding = encoding_from_description(payload["encoding"])
        labels = tuple(payload["labels"])
    except Exception as exc:
        raise CheckpointError(f"The checkpoint {path} does not match its architecture: {exc}") from exc
    if labels != LABELS:
        raise CheckpointError(f"The checkpoint {path} has labels {labels}, expected {LABELS}.")
    network.eval()
    return SentimentModel(architecture, network, encoding, labels, payload.get("meta") or {})
