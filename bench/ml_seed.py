"""The seed-style reference paths, rebuilt from the tutorial's description (see BENCHMARKS.md).

Inference: lowercase and reverse the text, a 69 x 1014 one-hot matrix filled by a Python loop over
the characters, the full Zhang et al. network one text at a time, softmax, the score bands and
`suggested = min(int(score*5+1), 5)`. Training: the same one-hot matrix built per sample in a
`Dataset.__getitem__`, batched by a DataLoader, full 1014-character width.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ml.encoding import SEED_ALPHABET
from ml.model import CharCNN

LENGTH = 1014
INDEX = {symbol: i for i, symbol in enumerate(SEED_ALPHABET)}


def seed_one_hot(text: str) -> np.ndarray:
    """The seed's quantisation: a Python loop over the reversed, lower-cased characters."""
    matrix = np.zeros((len(SEED_ALPHABET), LENGTH), dtype=np.float32)
    for position, character in enumerate(text.lower()[::-1][:LENGTH]):
        row = INDEX.get(character)
        if row is not None:
            matrix[row, position] = 1.0
    return matrix


def seed_forward(network: CharCNN, one_hot: torch.Tensor) -> torch.Tensor:
    """The full-width network (no padded-tail shortcut)."""
    return network.classifier(network.features(one_hot).flatten(1))


def seed_predict(network: CharCNN, text: str) -> dict:
    """One text, as the seed served it."""
    with torch.no_grad():
        probabilities = torch.softmax(seed_forward(network, torch.from_numpy(seed_one_hot(text))[None]), dim=1)[0]
    score = float(probabilities[2] + 0.5 * probabilities[1])
    band = "bad" if score < 0.33 else "average" if score < 0.67 else "good"
    return {"score": score, "label": band, "suggested_rating": min(int(score * 5 + 1), 5)}


class SeedDataset(Dataset):
    """Builds each one-hot matrix in Python when the loader asks for it."""

    def __init__(self, texts: list[str], labels: np.ndarray) -> None:
        self.texts, self.labels = texts, labels

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int):
        return torch.from_numpy(seed_one_hot(self.texts[index])), int(self.labels[index])
