"""Texts → index tensors: the character alphabet of the char-CNNs and the hashed n-grams of `fasttext`.

Everything is vectorised with numpy over a text's code points (no Python loop per character). A text
is encoded once into a small integer array; `collate` turns a list of them into a batch.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
import torch

# The seed's 69 symbols (Zhang et al. 2015 without the newline).
SEED_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+ =<>()[]{}"
TOKENS = re.compile(r"\w+|[^\w\s]")  # words and single punctuation marks
_PRIME = 0x100000001B3


def _code_points(text: str) -> np.ndarray:
    """The text's Unicode code points as a uint32 array (lone surrogates become U+FFFD)."""
    return np.frombuffer(text.encode("utf-32-le", "replace"), dtype=np.uint32)


@dataclass(frozen=True)
class CharEncoding:
    """Characters → indices: 0 pads, 1..len(alphabet) are the symbols, unknown → 0 or its own index."""

    alphabet: str = SEED_ALPHABET
    length: int = 1014  # characters kept; 0 means any length (cut at max_chars)
    lowercase: bool = True
    reverse: bool = True  # the seed reversed the text so the last characters sit first
    unknown_index: bool = False  # True: characters outside the alphabet get index len(alphabet) + 1
    max_chars: int = 5000

    @property
    def vocabulary_size(self) -> int:
        return len(self.alphabet) + (2 if self.unknown_index else 1)

    def table(self) -> np.ndarray:
        """Lookup from code point (clipped to 0..128) to index."""
        cached = getattr(self, "_table", None)
        if cached is None:
            cached = np.full(129, len(self.alphabet) + 1 if self.unknown_index else 0, dtype=np.int16)
            for index, symbol in enumerate(self.alphabet, start=1):
                cached[ord(symbol)] = index
            object.__setattr__(self, "_table", cached)
        return cached

    def cut(self, text: str) -> str:
        """The part of the text the model reads: the first `length` (or `max_chars`) characters."""
        return text[: self.length or self.max_chars]

    def encode(self, text: str) -> np.ndarray:
        """One text → uint8 index array (not padded)."""
        text = self.cut(text)
        if self.lowercase:
            text = text.lower()
        codes = _code_points(text)
        indices = self.table()[np.minimum(codes, 128)].astype(np.uint8)
        return indices[::-1].copy() if self.reverse else indices

    def collate(self, encoded: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch: (indices [B, L] padded with 0, lengths [B])."""
        lengths = np.fromiter((len(item) for item in encoded), dtype=np.int64, count=len(encoded))
        width = self.length or max(1, int(lengths.max(initial=1)))
        batch = np.zeros((len(encoded), width), dtype=np.int64)
        for row, item in enumerate(encoded):
            batch[row, : len(item)] = item[:width]
        return torch.from_numpy(batch), torch.from_numpy(lengths)

    def describe(self) -> dict:
        return {"kind": "chars", **asdict(self)}


class NgramText(NamedTuple):
    ids: np.ndarray  # int64 distinct n-gram ids
    tf: np.ndarray  # float32 sublinear term frequency of each id: 1 + log(count)
    lexicon: np.ndarray  # float32 lexicon scores (empty when the encoding has none)

    def __len__(self) -> int:  # used to batch texts of similar size together
        return len(self.ids)


def lexicon_features(text: str) -> np.ndarray:
    """VADER's compound, positive, negative and neutral scores: prior knowledge the small dataset lacks."""
    from ml.lexicon import lexicon_scores

    return lexicon_vector(lexicon_scores(text))


def lexicon_vector(scores: dict[str, float]) -> np.ndarray:
    """VADER's scores as the model reads them: compound, positive, negative, neutral (float32)."""
    return np.array([scores["compound"], scores["pos"], scores["neg"], scores["neu"]], dtype=np.float32)


def ngram_text(ids: np.ndarray, counts: np.ndarray, lexicon: np.ndarray) -> NgramText:
    """A text's encoding from its distinct ids and how often each occurs (sublinear term frequency)."""
    return NgramText(ids, (1.0 + np.log(counts)).astype(np.float32), lexicon)


def distinct_counts(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct ids and how often each occurs (`np.unique(..., return_counts=True)`, leaner)."""
    ids = np.sort(ids)
    starts = np.flatnonzero(np.concatenate((ids[:1] == ids[:1], ids[1:] != ids[:-1])))
    return ids[starts], np.diff(np.append(starts, len(ids)))


def normalized(text: str) -> str:
    """What the n-grams read: lower case, each whitespace run one space, no space at either end.

    `str.split()` splits on exactly the characters the regex `\\s` matches (`str.isspace`), in C.
    """
    return " ".join(text.lower().split())


def token_spans(norm: str, start: int = 0) -> np.ndarray:
    """[start, end) of each word or punctuation token of a normalized text from `start`, as an [N, 2] int64 array.

    Tokenizing from the end of any token gives the same tokens as tokenizing the whole text from there.
    """
    flat = [bound for match in TOKENS.finditer(norm, start) for bound in match.span()]
    return np.array(flat, dtype=np.int64).reshape(-1, 2)


def word_hashes(tokens: list[str]) -> np.ndarray:
    """Each token's 64-bit word hash (CRC-32 of its UTF-8, spread)."""
    return np.fromiter((zlib.crc32(t.encode("utf-8", "replace")) for t in tokens), np.uint64, len(tokens))


def word_unigrams(words: np.ndarray) -> np.ndarray:
    """Raw hashes of single words."""
    return words * np.uint64(0x9E3779B1)


def word_bigrams(words: np.ndarray) -> np.ndarray:
    """Raw hashes of each pair of neighbouring words (one fewer than the words)."""
    return (words[:-1] * np.uint64(1000003) ^ words[1:]) * np.uint64(0x85EBCA77) + np.uint64(7)


def char_ngrams(padded: str, orders: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Raw hashes of the character n-grams of each order, one per start position of `padded`.

    The n-gram at i hashes to n·C·P^n + Σₖ codes[i+k]·P^(n-1-k) (mod 2^64), a polynomial rolling
    hash that depends on the n characters only (so any slice of a text hashes its n-grams the same);
    each order's sums come from the previous order's with one multiply-add over the text.
    """
    codes = _code_points(padded).astype(np.uint64)
    rolling, hashed = codes, {}
    for n in range(1, max(orders, default=0) + 1):
        if n > 1:
            rolling = rolling[:-1] * np.uint64(_PRIME) + codes[n - 1 :]
        if n in orders and len(rolling):
            hashed[n] = rolling + np.uint64(n * 0x27D4EB2F * pow(_PRIME, n, 2**64) % 2**64)
    return hashed


class NgramPart(NamedTuple):
    """One kind of n-gram of a text: bucket ids in text order and the [start, end) of `norm` each covers."""

    ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray


@dataclass(frozen=True)
class NgramEncoding:
    """Texts → distinct hashed word uni/bigrams and character 2-5-grams (ids 1..buckets-1) with their counts.

    With `lexicon`, each text also carries VADER's four scores (see `lexicon_features`).
    """

    buckets: int = 2**18
    char_ngrams: tuple[int, ...] = (2, 3, 4, 5)
    word_ngrams: int = 2  # 1: words only; 2: words and word bigrams (the most it builds)
    max_chars: int = 5000
    lexicon: bool = False

    def cut(self, text: str) -> str:
        return text[: self.max_chars]

    def encode(self, text: str) -> NgramText:
        """One text → its n-gram ids (and lexicon scores)."""
        text = self.cut(text)
        features = lexicon_features(text) if self.lexicon else np.zeros(0, dtype=np.float32)
        return ngram_text(*distinct_counts(self.ngram_ids(text)), features)

    def ngram_ids(self, text: str) -> np.ndarray:
        """int64 array of n-gram ids, one per occurrence (empty for an empty text)."""
        norm = normalized(text)
        if not norm:
            return np.zeros(0, dtype=np.int64)
        raw = []
        tokens = TOKENS.findall(norm)
        if tokens:
            words = word_hashes(tokens)
            raw.append(word_unigrams(words))
            if self.word_ngrams >= 2 and len(tokens) > 1:
                raw.append(word_bigrams(words))
        raw.extend(char_ngrams(f" {norm} ", self.char_ngrams).values())
        return self.bucket_ids(np.concatenate(raw))

    def ngram_parts(self, norm: str) -> dict[str, NgramPart]:
        """The n-grams of a normalized text by kind ("words", "bigrams", "chars2".."chars5"), in text order.

        The same ids as `ngram_ids`, with what each covers (for explanations and incremental encoding).

        Word n-grams cover tokens (`token_spans`); a character n-gram of order n at position i covers
        characters i-1 .. i+n-2 of `norm` (the text is read padded with one space on each side).
        """
        if not norm:
            return {}
        parts = {}
        spans = token_spans(norm)
        words = word_hashes([norm[start:end] for start, end in spans])
        if len(words):
            parts["words"] = NgramPart(self.bucket_ids(word_unigrams(words)), spans[:, 0], spans[:, 1])
            if self.word_ngrams >= 2 and len(words) > 1:
                parts["bigrams"] = NgramPart(self.bucket_ids(word_bigrams(words)), spans[:-1, 0], spans[1:, 1])
        for n, raw in char_ngrams(f" {norm} ", self.char_ngrams).items():
            starts = np.arange(len(raw), dtype=np.int64) - 1
            parts[f"chars{n}"] = NgramPart(self.bucket_ids(raw), starts, starts + n)
        return parts

    def bucket_ids(self, hashed: np.ndarray) -> np.ndarray:
        """Raw 64-bit n-gram hashes → bucket ids 1..buckets-1."""
        hashed = hashed ^ (hashed >> np.uint64(29))
        return (hashed % np.uint64(self.buckets - 1)).astype(np.int64) + 1

    def collate(self, encoded: list[NgramText]) -> tuple[torch.Tensor, ...]:
        """A batch for EmbeddingBag: (flat ids, offsets [B], text of each id, term frequencies, lexicon [B, k])."""
        lengths = np.fromiter((len(item.ids) for item in encoded), dtype=np.int64, count=len(encoded))
        offsets = np.zeros(len(encoded), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        bag = np.repeat(np.arange(len(encoded)), lengths)
        ids = torch.from_numpy(np.concatenate([item.ids for item in encoded]))
        tf = torch.from_numpy(np.concatenate([item.tf for item in encoded]))
        lexicon = torch.from_numpy(np.stack([item.lexicon for item in encoded]))
        return ids, torch.from_numpy(offsets), torch.from_numpy(bag), tf, lexicon

    def describe(self) -> dict:
        return {"kind": "ngrams", **asdict(self)}


def encoding_from_description(description: dict) -> CharEncoding | NgramEncoding:
    """Rebuild an encoding from a checkpoint's `encoding` entry."""
    values = dict(description)
    kind = values.pop("kind", None)
    if kind == "chars":
        return CharEncoding(**values)
    if kind == "ngrams":
        values["char_ngrams"] = tuple(values.get("char_ngrams", ()))
        return NgramEncoding(**values)
    raise ValueError(f"unknown text encoding {kind!r}")
