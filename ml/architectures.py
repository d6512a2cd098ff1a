"""The one registry of architectures: each name's text encoding, network config and training defaults.

Everything that offers a choice of architecture (the training options, the admin form, the API, the
`train` command) reads the names from `ARCHITECTURE_SPECS`. The encoding and network config are
built on first use, so reading the names does not load PyTorch into a web process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ml.encoding import CharEncoding, NgramEncoding
    from ml.model import CharCNNConfig, CNNConfig, FastTextConfig

    Parts = tuple[CharEncoding | NgramEncoding, CharCNNConfig | CNNConfig | FastTextConfig]


@dataclass(frozen=True)
class Architecture:
    name: str
    parts: Callable[[], Parts] = field(repr=False)  # (encoding, network config), built when first needed
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float = 0.0
    optimizer: str = "adamw"  # or "sparse": Adagrad on sparse embedding tables, AdamW (1e-2) on the rest
    length_buckets: bool = True  # batch texts of similar length together (char models)

    @cached_property
    def _built(self) -> Parts:
        return self.parts()

    @property
    def encoding(self) -> CharEncoding | NgramEncoding:
        """How this architecture turns a text into network input."""
        return self._built[0]

    @property
    def config(self) -> CharCNNConfig | CNNConfig | FastTextConfig:
        """The network's config dataclass."""
        return self._built[1]


def _charcnn_parts() -> Parts:
    from ml.encoding import CharEncoding
    from ml.model import CharCNNConfig

    return CharEncoding(), CharCNNConfig(vocabulary_size=CharEncoding().vocabulary_size)


def _cnn_parts() -> Parts:
    from ml.encoding import CharEncoding
    from ml.model import CNNConfig

    encoding = CharEncoding(length=0, reverse=False, unknown_index=True, max_chars=2000)
    return encoding, CNNConfig(vocabulary_size=CharEncoding(unknown_index=True).vocabulary_size)


def _fasttext_parts() -> Parts:
    from ml.encoding import NgramEncoding
    from ml.model import FastTextConfig

    return NgramEncoding(lexicon=True), FastTextConfig()


ARCHITECTURE_SPECS: dict[str, Architecture] = {
    "fasttext": Architecture(
        name="fasttext",
        parts=_fasttext_parts,
        epochs=4,
        batch_size=16,
        learning_rate=0.02,
        optimizer="sparse",
        length_buckets=False,
    ),
    "charcnn": Architecture(name="charcnn", parts=_charcnn_parts, epochs=10, batch_size=64, learning_rate=1e-3),
    "cnn": Architecture(name="cnn", parts=_cnn_parts, epochs=8, batch_size=32, learning_rate=2e-3),
}
DEFAULT_ARCHITECTURE = "fasttext"
