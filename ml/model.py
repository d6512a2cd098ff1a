"""The sentiment networks and their configs. Plain PyTorch: no Django here.

Every network takes the batch its encoding builds (`ml.encoding`) and returns logits over the three
labels (bad, average, good).

- `charcnn`: the tutorial's network (Zhang, Zhao & LeCun 2015, small): one-hot characters, 6 × Conv1d
  with 256 filters (kernels 7,7,3,3,3,3, max-pool 3 after layers 1, 2, 6), Linear 1024, 1024, 3,
  dropout 0.5, 1014 characters. One-hot vectors are looked up per batch, never stored. The padded
  tail of a short text is all zeros, so at every layer the positions that see only padding hold
  one shared column: each layer computes only the positions that see text and reads that column
  past them, which gives exactly the full network's outputs and gradients at a fraction of the cost. The
  first convolution of one-hot input is computed as a sum of looked-up weight columns and the
  shared column by matrix-vector products (`CharCNN.first_layer`, `CharCNN.blank_column`): the
  same parameters and the same outputs (up to float rounding), far fewer multiply-adds.
- `cnn`: a narrow char-CNN: a learned character embedding, two convolutions, global max+mean
  pooling over the text's real length (any length).
- `fasttext`: learned embeddings of hashed word uni/bigrams and character 2-5-grams (Joulin et al.
  2017), summed with TF-IDF weights, joined with the VADER lexicon's four scores, then a linear
  layer. Few multiply-adds per text; the lexicon brings word knowledge a few thousand reviews lack.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 3


@dataclass(frozen=True)
class CharCNNConfig:
    vocabulary_size: int = 70  # 69 symbols + the all-zero padding/unknown index 0
    length: int = 1014
    filters: int = 256
    kernels: tuple[int, ...] = (7, 7, 3, 3, 3, 3)
    pool_after: tuple[bool, ...] = (True, True, False, False, False, True)
    hidden: int = 1024
    dropout: float = 0.5
    classes: int = NUM_CLASSES


@dataclass(frozen=True)
class CNNConfig:
    vocabulary_size: int = 71
    embedding_dim: int = 32
    channels: tuple[int, ...] = (128, 128)
    kernels: tuple[int, ...] = (5, 5)
    dropout: float = 0.3
    classes: int = NUM_CLASSES


@dataclass(frozen=True)
class FastTextConfig:
    buckets: int = 2**18
    dim: int = 64
    dropout: float = 0.7
    lexicon_features: int = 4  # VADER scores joined to the pooled embedding (0: none)
    lexicon_scale: float = 3.0
    classes: int = NUM_CLASSES


class CharCNN(nn.Module):
    """Zhang et al.'s small char-CNN over one-hot characters."""

    def __init__(self, config: CharCNNConfig) -> None:
        super().__init__()
        self.config = config
        symbols = config.vocabulary_size - 1
        # Index 0 (padding, unknown) maps to the zero vector, 1..n to one-hot rows.
        self.register_buffer("one_hot", torch.cat([torch.zeros(1, symbols), torch.eye(symbols)]), persistent=False)
        channels = [symbols] + [config.filters] * len(config.kernels)
        self.convs = nn.ModuleList(
            nn.Conv1d(channels[i], channels[i + 1], kernel) for i, kernel in enumerate(config.kernels)
        )
        width = config.length
        for kernel, pool in zip(config.kernels, config.pool_after, strict=True):
            width = (width - kernel + 1) // (3 if pool else 1)
        self.out_width = width
        self.receptive_field = self._receptive_field()
        self.classifier = nn.Sequential(
            nn.Linear(config.filters * width, config.hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.hidden),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.classes),
        )
        for module in self.modules():  # the paper's initialisation
            if isinstance(module, nn.Conv1d | nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.05)

    def _receptive_field(self) -> int:
        """How many input characters one output position of the convolution stack sees."""
        span = 1
        for kernel, pool in reversed(list(zip(self.config.kernels, self.config.pool_after, strict=True))):
            span = span * (3 if pool else 1) + kernel - 1
        return span

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Convolution stack over one-hot input [B, symbols, L]."""
        for conv, pool in zip(self.convs, self.config.pool_after, strict=True):
            x = F.relu(conv(x))
            if pool:
                x = F.max_pool1d(x, 3)
        return x

    def first_layer(self, indices: torch.Tensor) -> torch.Tensor:
        """The first convolution over one-hot input, as a lookup: exactly `convs[0]` on the one-hot matrix.

        A kernel-k convolution of one-hot columns is, at each position, the bias plus the sum of k weight
        columns picked by the k characters under the window (index 0, padding, picks zeros). So the
        [B, 69, L] one-hot matrix and its 69 x 7 multiply-adds per output never exist: one
        `embedding_bag` sums the picked columns, and its backward adds the gradient into those columns.
        """
        conv = self.convs[0]
        kernel = conv.kernel_size[0]
        rows = self.one_hot.shape[0]  # symbols + the zero row
        weight = conv.weight.permute(2, 1, 0)  # [kernel, symbols, filters]
        table = torch.cat([weight.new_zeros(kernel, 1, weight.shape[2]), weight], dim=1).reshape(kernel * rows, -1)
        windows = indices.unfold(1, kernel, 1) + torch.arange(0, kernel * rows, rows, device=indices.device)
        batch, width, _ = windows.shape
        summed = F.embedding_bag(windows.reshape(batch * width, kernel), table, mode="sum")
        return (summed.view(batch, width, -1) + conv.bias).transpose(1, 2)

    def blank_columns(self) -> list[torch.Tensor]:
        """Each layer's output for an all-padding input, before ReLU (one [filters] column per layer).

        On all-zero input every layer's output is the same at every position: the first layer gives
        its bias, each later one its bias plus its kernel-summed weights times the previous column
        after ReLU (max-pooling a constant changes nothing). A few matrix-vector products instead of
        six convolutions (with their backward).
        """
        columns = [self.convs[0].bias]
        for conv in self.convs[1:]:
            columns.append(torch.addmv(conv.bias, conv.weight.sum(2), F.relu(columns[-1])))
        return columns

    def blank_column(self) -> torch.Tensor:
        """The features of an all-padding input ([1, filters, 1]): equal to `features` of zeros."""
        return F.relu(self.blank_columns()[-1]).view(1, -1, 1)

    def forward(self, indices: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The full network's logits, computing only the positions that see text.

        A position whose window sees only padding holds its layer's blank column, so each layer
        computes the positions that see at least one text position (its `seen` count) and reads the
        blank column wherever a window runs past them. The same outputs and gradients as the network
        over all 1,014 positions, for the cost of the text's length.
        """
        config = self.config
        seen = min(config.length, max(1, int(lengths.max()) if lengths.numel() else 1))  # at least one position
        blanks = self.blank_columns()
        kernel = config.kernels[0]
        width = config.length - kernel + 1  # the full network's width after this layer
        if config.pool_after[0]:
            seen, width = min(-(-seen // 3), width // 3), width // 3
            x = self.first_layer(indices[:, : 3 * seen + kernel - 1]).transpose(1, 2)  # [B, L, filters]
            # Max-pool along L in this layout, then one copy of a third of the size into [B, filters, L].
            x = x.unflatten(1, (-1, 3)).max(2).values
        else:
            seen = min(seen, width)
            x = self.first_layer(indices[:, : seen + kernel - 1]).transpose(1, 2)
        x = F.relu(x.transpose(1, 2).contiguous())
        for number, (conv, pool) in enumerate(zip(self.convs, config.pool_after, strict=True)):
            if not number:
                continue
            kernel = conv.kernel_size[0]
            outputs = min(seen, width - kernel + 1)
            x = conv(self._padded(x, F.relu(blanks[number - 1]), outputs + kernel - 1))
            seen, width = outputs, width - kernel + 1
            if pool:
                seen, width = min(-(-seen // 3), width // 3), width // 3
                x = F.max_pool1d(self._padded(x, blanks[number], 3 * seen), 3)
            # ReLU and max-pooling commute (both monotonic): pooling first leaves ReLU a third of the work.
            x = F.relu(x)
        if seen >= self.out_width:
            return self.classifier(x.flatten(1))
        # Positions that see only padding all hold the last blank column, so the first linear layer's
        # share from them is one matrix-vector product, the same for every text of the batch: exactly
        # the layer applied to the full [filters x out_width] features.
        first = self.classifier[0]
        weight = first.weight.view(first.out_features, config.filters, self.out_width)
        real, padded = weight.split([seen, self.out_width - seen], dim=2)
        shared = torch.addmv(first.bias, padded.sum(2), F.relu(blanks[-1]))
        hidden = torch.addmm(shared, x.flatten(1), real.reshape(first.out_features, -1).t())
        return self.classifier[1:](hidden)

    @staticmethod
    def _padded(x: torch.Tensor, column: torch.Tensor, width: int) -> torch.Tensor:
        """x [B, filters, L] cut or extended with copies of `column` to `width` positions."""
        if width <= x.shape[2]:
            return x[:, :, :width]
        return torch.cat([x, column.view(1, -1, 1).expand(x.shape[0], -1, width - x.shape[2])], dim=2)


class CNN(nn.Module):
    """A narrow char-CNN: embedding, convolutions, global max+mean pooling over the real length."""

    def __init__(self, config: CNNConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocabulary_size, config.embedding_dim, padding_idx=0)
        dims = [config.embedding_dim, *config.channels]
        self.convs = nn.ModuleList(
            nn.Conv1d(dims[i], dims[i + 1], kernel, padding=kernel // 2) for i, kernel in enumerate(config.kernels)
        )
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(2 * dims[-1], config.classes)

    def forward(self, indices: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.embedding(indices).transpose(1, 2)
        for conv in self.convs:
            x = F.relu(conv(x))
        positions = torch.arange(x.shape[2], device=x.device)
        valid = (positions[None, :] < lengths.clamp(min=1)[:, None]).unsqueeze(1)
        pooled_max = x.masked_fill(~valid, float("-inf")).amax(dim=2)
        pooled_mean = (x * valid).sum(dim=2) / valid.sum(dim=2).clamp(min=1)
        return self.out(self.dropout(torch.cat([pooled_max, pooled_mean], dim=1)))


class FastText(nn.Module):
    """fastText-style classifier over TF-IDF-weighted hashed n-grams, joined with lexicon scores.

    Each text is the L2-normalised sum of its n-gram embeddings weighted by (1 + log count) x idf;
    the idf table is fitted on the training texts (`fit_idf`) and saved with the weights. Scoring
    without gradients in eval mode (serving, evaluation) goes through `bucket_scores`.
    """

    def __init__(self, config: FastTextConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.EmbeddingBag(config.buckets, config.dim, mode="sum", sparse=True)
        nn.init.uniform_(self.embedding.weight, -1.0 / config.dim, 1.0 / config.dim)
        self.register_buffer("idf", torch.ones(config.buckets))
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.dim + config.lexicon_features, config.classes)

    def fit_idf(self, documents: list) -> None:
        """Smoothed inverse document frequency of each bucket over the training texts' distinct ids."""
        ids = [torch.as_tensor(document) for document in documents]
        frequency = torch.bincount(torch.cat(ids), minlength=self.config.buckets).float() if ids else 0
        self.idf.copy_(torch.log((1.0 + len(ids)) / (1.0 + frequency)) + 1.0)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor, bag: torch.Tensor, tf: torch.Tensor, lexicon):
        """ids, offsets: EmbeddingBag input; bag: each id's text; tf: each id's term frequency."""
        if not self.training and not torch.is_grad_enabled():
            return self._scored(ids, offsets, tf, lexicon)
        weights = tf * self.idf[ids]
        norms = torch.zeros(len(offsets)).index_add_(0, bag, weights * weights).sqrt().clamp(min=1e-12)
        pooled = self.dropout(self.embedding(ids, offsets, per_sample_weights=weights / norms[bag]))
        if self.config.lexicon_features:
            pooled = torch.cat([pooled, lexicon * self.config.lexicon_scale], dim=1)
        return self.out(pooled)

    def bucket_scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The eval-mode network folded into tables: idf·W·E [buckets, classes], idf² [buckets, 1], scaled W_lexiconᵀ.

        With dropout off the logits are linear in the pooled embedding: W·Σ wᵢ·E[idᵢ] / ‖w‖ with
        wᵢ = tfᵢ·idfᵢ equals Σ tfᵢ·(idfᵢ·W·E[idᵢ]) / √(Σ tfᵢ²·idfᵢ²). So scoring a text is two
        `embedding_bag` sums over small rows (a 3 MB and a 1 MB table instead of 64 MB of embeddings):
        the same logits up to float rounding, a fraction of the memory traffic and of the operations.
        Rebuilt when the weights change (optimizer steps and `load_state_dict` bump version counters)
        or are replaced.
        """
        versions = [(t.data_ptr(), t._version) for t in (self.embedding.weight, self.out.weight, self.idf)]
        cached = getattr(self, "_bucket_scores", None)
        if cached is None or cached[0] != versions:
            with torch.no_grad():
                weight = self.out.weight
                folded = (self.embedding.weight @ weight[:, : self.config.dim].t()) * self.idf[:, None]
                lexicon = (weight[:, self.config.dim :] * self.config.lexicon_scale).t().contiguous()
                cached = (versions, (folded.contiguous(), (self.idf**2)[:, None].contiguous(), lexicon))
            self._bucket_scores = cached
        return cached[1]

    def _scored(self, ids, offsets, tf, lexicon) -> torch.Tensor:
        """`forward` in eval mode through `bucket_scores`: the same logits (dropout is off)."""
        folded, idf_squared, lexicon_weight = self.bucket_scores()
        raw = F.embedding_bag(ids, folded, offsets, mode="sum", per_sample_weights=tf)
        squares = F.embedding_bag(ids, idf_squared, offsets, mode="sum", per_sample_weights=tf * tf)
        logits = raw / squares.sqrt_().clamp_(min=1e-12)
        if self.config.lexicon_features:
            return torch.addmm(logits.add_(self.out.bias), lexicon, lexicon_weight)
        return logits.add_(self.out.bias)


# The network behind each architecture name (ml.architectures) and its config dataclass: what a
# checkpoint, which names its architecture, is rebuilt with.
NETWORKS: dict[str, tuple[type[nn.Module], type]] = {
    "charcnn": (CharCNN, CharCNNConfig),
    "cnn": (CNN, CNNConfig),
    "fasttext": (FastText, FastTextConfig),
}


def config_from_dict(architecture: str, values: dict):
    """Rebuild a config dataclass from a checkpoint (JSON lists become tuples)."""
    if architecture not in NETWORKS:
        raise ValueError(f"unknown architecture {architecture!r}; known: {', '.join(NETWORKS)}")
    values = {key: tuple(value) if isinstance(value, list) else value for key, value in values.items()}
    return NETWORKS[architecture][1](**values)


def build_network(architecture: str, config) -> nn.Module:
    """The network for an architecture name and its config."""
    return NETWORKS[architecture][0](config)


def config_to_dict(config) -> dict:
    """A config as plain JSON-friendly values."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(config).items()}
