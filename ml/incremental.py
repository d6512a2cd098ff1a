"""Incremental scoring while a visitor types: the `fasttext` encoding of a text, updated from the last one.

A live-scoring connection sends the whole text on every keystroke, and it usually differs from the
previous one only near its end. `TypingState` keeps what encoding the previous text produced and
recomputes only what an edit can reach, so the answer costs what the change costs, not what the text
costs. Its `encode` returns exactly what `model.encoding.encode(text)` returns (the same ids, term
frequencies and lexicon scores, bit for bit), so the network scores it as it scores the whole text:

- n-grams: the previous text's n-gram ids are kept by position. After an edit, the character
  n-grams that lie wholly in the unchanged start of the normalized text, the tokens that end before
  it, and the word pairs of those tokens are kept; the rest is hashed again and the distinct ids and
  their counts are updated by the difference (what `distinct_counts` of the whole text gives).
- lexicon: VADER's per-word valences are kept; a word's valence reads the three words before it and
  the two after it, so the words from two before the first changed word are scored again. What VADER
  computes over the whole text (the capitals test, the "but" rule, the punctuation emphasis and the
  sums) is recomputed or continued from kept running sums, in VADER's own order of operations.

It falls back to encoding the whole text whenever the state does not apply: another model, another
architecture (the char-CNNs read characters by position, so they are scored whole), a text longer
than the encoding reads, or no previous text. One state belongs to one connection and is used by
one thread at a time (the scoring thread).
"""

from __future__ import annotations

import math
from functools import lru_cache
from types import SimpleNamespace

import numpy as np

from ml import lexicon
from ml.encoding import (
    NgramEncoding,
    char_ngrams,
    distinct_counts,
    lexicon_vector,
    ngram_text,
    normalized,
    token_spans,
    word_bigrams,
    word_hashes,
    word_unigrams,
)


def common_prefix_length(a, b) -> int:
    """How many leading items two strings (or lists) share; slice comparisons run in C."""
    limit = min(len(a), len(b))
    if a[:limit] == b[:limit]:
        return limit
    low, high = 0, limit  # a[:low] == b[:low] holds, a[:high] == b[:high] does not
    while high - low > 1:
        middle = (low + high) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle
    return low


class NgramTrack:
    """The n-gram ids of the last text by position, and their distinct ids with counts."""

    def __init__(self, encoding: NgramEncoding, norm: str) -> None:
        self.encoding = encoding
        self._build(norm)

    def _build(self, norm: str) -> None:
        parts = self.encoding.ngram_parts(norm)
        self.norm = norm
        self.chars = {n: parts[f"chars{n}"].ids for n in self.encoding.char_ngrams if f"chars{n}" in parts}
        self.spans = token_spans(norm)
        self.words = word_hashes([norm[start:end] for start, end in self.spans])
        self.unigrams = parts["words"].ids if "words" in parts else np.zeros(0, dtype=np.int64)
        self.bigrams = parts["bigrams"].ids if "bigrams" in parts else np.zeros(0, dtype=np.int64)
        everything = [part.ids for part in parts.values()]
        self.ids, self.counts = distinct_counts(np.concatenate(everything) if everything else np.zeros(0, np.int64))

    def update(self, norm: str) -> None:
        """Move to a new normalized text, hashing only the n-grams the change reaches."""
        if norm == self.norm:
            return
        if not norm or not self.norm:
            self._build(norm)
            return
        encoding = self.encoding
        new_padded = f" {norm} "
        same = common_prefix_length(f" {self.norm} ", new_padded)
        first = max(0, same - max(encoding.char_ngrams, default=0) + 1)  # the first start any order needs again
        fresh = char_ngrams(new_padded[first:], encoding.char_ngrams)
        keep = {n: max(0, same - n + 1) for n in self.chars.keys() | fresh.keys()}  # n-grams wholly before the change
        # Tokens that end before the first changed character are unchanged, and so is tokenizing after them.
        kept = int(np.searchsorted(self.spans[:, 1], common_prefix_length(self.norm, norm), side="left"))
        resume = int(self.spans[kept - 1, 1]) if kept else 0
        tail_spans = token_spans(norm, resume)
        words = np.concatenate((self.words[:kept], word_hashes([norm[s:e] for s, e in tail_spans])))
        pairs_kept = max(0, kept - 1) if encoding.word_ngrams >= 2 else len(self.bigrams)
        # Everything new is hashed into buckets in one call, then cut back into its kinds.
        raw = [fresh[n][keep[n] - first :] if n in fresh else _NONE_RAW for n in keep]
        raw.append(word_unigrams(words[kept:]))
        raw.append(word_bigrams(words[pairs_kept:]) if encoding.word_ngrams >= 2 else _NONE_RAW)
        hashed, tails, at = encoding.bucket_ids(np.concatenate(raw)), [], 0
        for part in raw:
            tails.append(hashed[at : at + len(part)])
            at += len(part)
        removed = [self.chars.get(n, _NONE)[keep[n] :] for n in keep]
        removed += [self.unigrams[kept:], self.bigrams[pairs_kept:]]
        for n, tail in zip(keep, tails, strict=False):
            self.chars[n] = np.concatenate((self.chars.get(n, _NONE)[: keep[n]], tail))
        self.unigrams = np.concatenate((self.unigrams[:kept], tails[-2]))
        self.bigrams = np.concatenate((self.bigrams[:pairs_kept], tails[-1]))
        self.spans = np.concatenate((self.spans[:kept], tail_spans))
        self.words, self.norm = words, norm
        self._count(hashed, np.concatenate(removed))

    def _count(self, added: np.ndarray, removed: np.ndarray) -> None:
        """Apply the ids that appeared and disappeared to the sorted distinct ids and their counts."""
        changes = np.concatenate((added, removed))
        if not len(changes):
            return
        signs = np.ones(len(changes), dtype=np.int64)
        signs[len(added) :] = -1
        order = np.argsort(changes, kind="stable")
        changes, signs = changes[order], signs[order]
        starts = np.flatnonzero(np.concatenate(([True], changes[1:] != changes[:-1])))
        changed, delta = changes[starts], np.add.reduceat(signs, starts)
        moved = delta != 0
        changed, delta = changed[moved], delta[moved]
        ids, counts = self.ids, self.counts.copy()
        at = np.searchsorted(ids, changed)
        present = ids[np.minimum(at, len(ids) - 1)] == changed if len(ids) else np.zeros(len(changed), dtype=bool)
        counts[at[present]] += delta[present]
        if not present.all():
            ids = np.insert(ids, at[~present], changed[~present])
            counts = np.insert(counts, at[~present], delta[~present])
        if (delta < 0).any():
            alive = counts > 0
            ids, counts = ids[alive], counts[alive]
        self.ids, self.counts = ids, counts


_NONE = np.zeros(0, dtype=np.int64)
_NONE_RAW = np.zeros(0, dtype=np.uint64)
_NO_LEXICON = np.zeros(0, dtype=np.float32)


@lru_cache(maxsize=1)
def _vader():
    """VADER's analyzer (the one `ml.lexicon` scores with), its booster words and its single-character emoji."""
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentiText

    analyzer = lexicon.lexicon_analyzer()  # VADER with the linear-time negation checks: the very scores served
    single = frozenset(key for key in analyzer.emojis if len(key) == 1)  # VADER looks at one character at a time
    return analyzer, BOOSTER_DICT, SentiText._strip_punc_if_word, single


def without_emoji(text: str) -> str:
    """VADER's emoji step: each emoji becomes its description, after a space unless one is there already."""
    analyzer, _, _, emoji = _vader()
    if text.isascii() or emoji.isdisjoint(text):  # a set lookup per character in C: the usual case
        return text
    pieces = [
        ("" if at == 0 or text[at - 1] == " " else " ") + analyzer.emojis[char] if char in emoji else char
        for at, char in enumerate(text)
    ]
    return "".join(pieces)


class LexiconTrack:
    """VADER's scores of the last text with its per-word valences and running sums, for the next edit."""

    def __init__(self) -> None:
        self.raw: list[str] = []  # whitespace-split words, as VADER splits them
        self.words: list[str] = []  # the same with surrounding punctuation stripped (VADER's words)
        self.lowered: list[str] = []
        self.upper: list[bool] = []
        self.buts: list[int] = []  # where "but" stands: VADER reweighs the whole text around the first
        self.cap_diff = False
        self.valences: list[float] = []
        self.running: list[tuple[float, float, int]] = []  # VADER's positive/negative/neutral sums so far

    def scores(self, text: str) -> dict[str, float]:
        """`lexicon.lexicon_scores(text)`, recomputing only the words the change reaches."""
        analyzer, boosters, strip, _ = _vader()
        converted = without_emoji(text).strip()
        raw = converted.split()
        same = common_prefix_length(self.raw, raw)
        words = self.words[:same] + [strip(word) for word in raw[same:]]
        self.lowered = self.lowered[:same] + [word.lower() for word in words[same:]]
        self.upper = self.upper[:same] + [word.isupper() for word in words[same:]]
        self.buts = [at for at in self.buts if at < same] + [
            at for at in range(same, len(words)) if self.lowered[at] == "but"
        ]
        count, capitals = len(words), sum(self.upper)
        cap_diff = 0 < count - capitals < count
        # A word's valence reads up to two words after it (and whether they exist).
        start = max(0, same - 2) if cap_diff == self.cap_diff else 0
        sentitext = SimpleNamespace(is_cap_diff=cap_diff, words_and_emoticons=words)
        fresh = []
        for i in range(start, count):
            item = self.lowered[i]
            if item in boosters or (item == "kind" and i < count - 1 and self.lowered[i + 1] == "of"):
                fresh.append(0)
            else:
                fresh.append(analyzer.sentiment_valence(0, sentitext, words[i], i, [])[-1])
        self.valences = self.valences[:start] + fresh
        self.running = self.running[:start]
        positive, negative, neutral = self.running[-1] if self.running else (0.0, 0.0, 0)
        for valence in fresh:  # VADER's `_sift_sentiment_scores`, continued from the kept sums
            if valence > 0:
                positive += float(valence) + 1
            if valence < 0:
                negative += float(valence) - 1
            if valence == 0:
                neutral += 1
            self.running.append((positive, negative, neutral))
        self.raw, self.words, self.cap_diff = raw, words, cap_diff
        if self.buts:  # the "but" rule reweighs every word: VADER's own code, whole
            return analyzer.score_valence(analyzer._but_check(words, list(self.valences)), converted)
        return _score_valence(analyzer, self.valences, converted, (positive, negative, neutral))


def _score_valence(analyzer, sentiments: list, text: str, sifted: tuple[float, float, int]) -> dict[str, float]:
    """VADER's `score_valence` with the sifted sums given: the same operations in the same order."""
    from vaderSentiment.vaderSentiment import normalize

    if not sentiments:
        return {"neg": 0.0, "neu": 0.0, "pos": 0.0, "compound": 0.0}
    sum_s = float(sum(sentiments))
    punct_emph_amplifier = analyzer._punctuation_emphasis(text)
    if sum_s > 0:
        sum_s += punct_emph_amplifier
    elif sum_s < 0:
        sum_s -= punct_emph_amplifier
    compound = normalize(sum_s)
    pos_sum, neg_sum, neu_count = sifted
    if pos_sum > math.fabs(neg_sum):
        pos_sum += punct_emph_amplifier
    elif pos_sum < math.fabs(neg_sum):
        neg_sum -= punct_emph_amplifier
    total = pos_sum + math.fabs(neg_sum) + neu_count
    return {
        "neg": round(math.fabs(neg_sum / total), 3),
        "neu": round(math.fabs(neu_count / total), 3),
        "pos": round(math.fabs(pos_sum / total), 3),
        "compound": round(compound, 4),
    }


class TypingState:
    """One connection's last encoded text, so that its next text is encoded from the change."""

    def __init__(self) -> None:
        self.encoding: NgramEncoding | None = None
        self.ngrams: NgramTrack | None = None
        self.lexicon: LexiconTrack | None = None
        self.updates = 0  # texts encoded from a previous one (for tests and profiling)

    def encode(self, encoding: object, text: str) -> object:
        """`encoding.encode(text)`, from the previous text's state when it applies, else whole."""
        if not isinstance(encoding, NgramEncoding) or len(text) > encoding.max_chars:
            self.encoding = self.ngrams = self.lexicon = None
            return encoding.encode(text)
        norm = normalized(text)
        if encoding is not self.encoding or self.ngrams is None:
            self.encoding, self.ngrams = encoding, NgramTrack(encoding, norm)
            self.lexicon = LexiconTrack() if encoding.lexicon else None
        else:
            self.ngrams.update(norm)
            self.updates += 1
        features = lexicon_vector(self.lexicon.scores(text)) if self.lexicon is not None else _NO_LEXICON
        return ngram_text(self.ngrams.ids, self.ngrams.counts, features)
