"""What each architecture name means: its text encoding, network config and training defaults."""

from __future__ import annotations

from dataclasses import dataclass

from ml.encoding import CharEncoding, NgramEncoding
from ml.model import CharCNNConfig, CNNConfig, FastTextConfig


@dataclass(frozen=True)
class Architecture:
    name: str
    encoding: CharEncoding | NgramEncoding
    config: CharCNNConfig | CNNConfig | FastTextConfig
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float = 0.0
    optimizer: str = "adamw"  # or "sparse": Adagrad on sparse embedding tables, AdamW (1e-2) on the rest
    length_buckets: bool = True  # batch texts of similar length together (char models)


ARCHITECTURE_SPECS: dict[str, Architecture] = {
    "charcnn": Architecture(
        name="charcnn",
        encoding=CharEncoding(),
        config=CharCNNConfig(vocabulary_size=CharEncoding().vocabulary_size),
        epochs=10,
        batch_size=64,
        learning_rate=1e-3,
    ),
    "cnn": Architecture(
        name="cnn",
        encoding=CharEncoding(length=0, reverse=False, unknown_index=True, max_chars=2000),
        config=CNNConfig(vocabulary_size=CharEncoding(unknown_index=True).vocabulary_size),
        epochs=8,
        batch_size=32,
        learning_rate=2e-3,
    ),
    "fasttext": Architecture(
        name="fasttext",
        encoding=NgramEncoding(lexicon=True),
        config=FastTextConfig(),
        epochs=4,
        batch_size=16,
        learning_rate=0.02,
        optimizer="sparse",
        length_buckets=False,
    ),
}
