"""Why this score: which parts of a text pushed its prediction towards good or towards bad.

`explain(model, text)` answers a list of `{"start", "end", "weight"}` (fixed): character spans of the
text as submitted (offsets into it before any cleaning) and their contribution, positive towards
good, negative towards bad, the strongest first, at most EXPLANATION_SPANS of them, none weaker than
MIN_WEIGHT. A span is a word, or one punctuation mark, as the models' tokenizer cuts the text.

The unit is the model's log-odds of good against bad: log P(good) − log P(bad), which for a network is
the difference of its two logits.

- `fasttext` (exact): in eval mode the logits are linear in the n-gram buckets
  (`FastText.bucket_scores`): logit_c = Σ tfᵢ·foldedᵢ,c / √(Σ tfᵢ²·idfᵢ²) + bias_c + lexicon part.
  Each distinct bucket i contributes tfᵢ·(foldedᵢ,good − foldedᵢ,bad) / √(Σ tf²·idf²). That is shared
  equally by the bucket's occurrences in the text, and each occurrence's share equally by the
  non-space characters it covers (a word its token, a word pair both tokens, a character n-gram its
  characters). A span's weight is the sum over its characters, so the spans add up exactly to the
  n-gram part of the log-odds. What is left, the bias and the VADER lexicon scores joined to the
  n-grams (which read the whole text), is not shown as spans.
- `charcnn`, `cnn` and the lexicon (approximate, by occlusion): each span (or run of neighbouring
  spans when the text has more than OCCLUSION_MAX_SPANS) is blanked out with spaces, and its weight is
  the drop in log-odds that causes: at most OCCLUSION_MAX_SPANS + 1 texts scored in one batch.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ml.cleaning import cleaned_with_origin
from ml.encoding import TOKENS, NgramEncoding, distinct_counts, normalized
from reviews.labels import LABELS

EXPLANATION_SPANS = 8  # spans answered at most, the strongest first
MIN_WEIGHT = 0.01  # log-odds: weaker spans are left out
OCCLUSION_MAX_SPANS = 16  # blanked-out variants scored at most per explanation (a char-CNN: ~0.1 s)
PROBABILITY_FLOOR = 1e-6  # keeps the log-odds finite for a probability that rounds to 0
_ASCII_SPACES = np.array([9, 10, 11, 12, 13, 28, 29, 30, 31, 32], dtype=np.uint32)  # str.isspace below 128
_GOOD, _BAD = LABELS.index("good"), LABELS.index("bad")


def _normalized_with_origin(text: str) -> tuple[str, np.ndarray]:
    """`ml.encoding.normalized(text)` and, for each of its characters, the offset in `text` it comes from."""
    lowered = text.lower()
    if len(lowered) == len(text):
        lowered_origin = np.arange(len(text), dtype=np.int64)
    else:  # a few characters lower-case to two ("İ"): each maps back to the one it came from
        sizes = np.fromiter((len(char.lower()) for char in text), dtype=np.int64, count=len(text))
        lowered_origin = np.repeat(np.arange(len(text), dtype=np.int64), sizes)
    codes = np.frombuffer(lowered.encode("utf-32-le"), dtype=np.uint32)
    space = np.isin(codes, _ASCII_SPACES)
    wide = np.flatnonzero(codes >= 128)
    if len(wide):
        space[wide] = [lowered[at].isspace() for at in wide]
    # A whitespace run becomes one space (its first character stands for it); none is kept at either end.
    kept = ~space
    kept[1:] |= space[1:] & ~space[:-1]
    solid = np.flatnonzero(~space)
    kept[: solid[0] if len(solid) else len(kept)] = False
    if len(solid):
        kept[solid[-1] + 1 :] = False
    norm = normalized(text)
    positions = np.flatnonzero(kept)
    if len(positions) != len(norm) or len(lowered_origin) != len(lowered):
        raise ValueError("normalized text and offsets disagree")
    return norm, lowered_origin[positions]


def _spans(weights: list[tuple[int, int, float]]) -> list[dict]:
    """The strongest spans first, at most EXPLANATION_SPANS, none weaker than MIN_WEIGHT."""
    strongest = sorted(weights, key=lambda span: (-abs(span[2]), span[0]))
    return [
        {"start": start, "end": end, "weight": round(weight, 3)}
        for start, end, weight in strongest[:EXPLANATION_SPANS]
        if abs(weight) >= MIN_WEIGHT and math.isfinite(weight)
    ]


def ngram_token_weights(model, cleaned: str) -> tuple[str, np.ndarray, np.ndarray]:
    """For a `fasttext` model: the normalized text, its token spans [N, 2] and each token's share of the log-odds."""
    encoding: NgramEncoding = model.encoding
    norm = normalized(encoding.cut(cleaned))
    parts = encoding.ngram_parts(norm)
    if not parts:
        return norm, np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    folded, idf_squared, _ = model.network.bucket_scores()
    ids, counts = distinct_counts(np.concatenate([part.ids for part in parts.values()]))
    tf = (1.0 + np.log(counts)).astype(np.float32).astype(np.float64)
    # index_select: advanced indexing (`folded[ids]`) takes a slow path, a thousand times slower here.
    picked = torch.from_numpy(ids)
    squares = torch.index_select(idf_squared, 0, picked)[:, 0].double().numpy()
    scale = math.sqrt(max(float(np.sum(tf * tf * squares)), 1e-24))
    rows = torch.index_select(folded, 0, picked).double().numpy()
    per_id = tf * (rows[:, _GOOD] - rows[:, _BAD]) / scale / counts  # one occurrence's share
    # Spread each occurrence's share over the non-space characters it covers, counted in the index
    # space of non-space characters, where what an n-gram covers is one contiguous run.
    solid = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32) != ord(" ")
    solid_before = np.concatenate(([0], np.cumsum(solid)))  # non-space characters before each offset
    firsts, lasts, shares = [], [], []
    for part in parts.values():
        first = solid_before[np.clip(part.starts, 0, len(norm))]
        last = solid_before[np.clip(part.ends, 0, len(norm))]
        firsts.append(first)
        lasts.append(last)
        shares.append(per_id[np.searchsorted(ids, part.ids)] / np.maximum(last - first, 1))
    size, share = int(solid_before[-1]) + 1, np.concatenate(shares)
    spread = np.bincount(np.concatenate(firsts), share, size) - np.bincount(np.concatenate(lasts), share, size)
    per_char = np.cumsum(spread)[:-1]
    accumulated = np.concatenate(([0.0], np.cumsum(per_char)))
    tokens = np.stack((parts["words"].starts, parts["words"].ends), axis=1)  # a non-empty text has a token
    token_weights = accumulated[solid_before[tokens[:, 1]]] - accumulated[solid_before[tokens[:, 0]]]
    return norm, tokens, token_weights


def _ngram_explanation(model, text: str) -> list[dict]:
    cleaned, clean_origin = cleaned_with_origin(text)
    norm, norm_origin = _normalized_with_origin(model.encoding.cut(cleaned))
    checked, tokens, weights = ngram_token_weights(model, cleaned)
    if checked != norm:
        raise ValueError("the explained text is not the one whose offsets were mapped")
    origin = clean_origin[norm_origin]
    return _spans(
        [
            (int(origin[start]), int(origin[end - 1]) + 1, float(weight))
            for (start, end), weight in zip(tokens.tolist(), weights.tolist(), strict=True)
        ]
    )


def _log_odds(probabilities: np.ndarray) -> np.ndarray:
    clipped = np.clip(probabilities.astype(np.float64), PROBABILITY_FLOOR, 1.0)
    return np.log(clipped[:, _GOOD]) - np.log(clipped[:, _BAD])


def _occlusion_explanation(model, text: str) -> list[dict]:
    from ml import lexicon

    cleaned, clean_origin = cleaned_with_origin(text)
    read = len(model.encoding.cut(cleaned)) if model is not None else len(cleaned)
    tokens = [match.span() for match in TOKENS.finditer(cleaned[:read])]
    if not tokens:
        return []
    size = -(-len(tokens) // OCCLUSION_MAX_SPANS)  # neighbouring tokens blanked together when there are many
    groups = [(tokens[i][0], tokens[min(i + size, len(tokens)) - 1][1]) for i in range(0, len(tokens), size)]
    variants = [cleaned] + [cleaned[:start] + " " * (end - start) + cleaned[end:] for start, end in groups]
    if model is None:
        probabilities = np.array([[lexicon.lexicon_probabilities(v)[label] for label in LABELS] for v in variants])
    else:
        probabilities = model.probabilities(variants, batch_size=len(variants))
    odds = _log_odds(probabilities)
    return _spans(
        [
            (int(clean_origin[start]), int(clean_origin[end - 1]) + 1, float(odds[0] - blanked))
            for (start, end), blanked in zip(groups, odds[1:], strict=True)
        ]
    )


def explain(model, text: str) -> list[dict]:
    """The spans of `text` that pushed `model`'s prediction (None: the lexicon), strongest first."""
    if not text or str(text).isspace():
        return []
    if model is not None and isinstance(model.encoding, NgramEncoding) and hasattr(model.network, "bucket_scores"):
        return _ngram_explanation(model, text)
    return _occlusion_explanation(model, text)
