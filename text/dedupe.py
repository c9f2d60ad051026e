"""Near-duplicate detection: pure logic, no I/O (storage/catalog.py keeps the index).

    text → normalise → sha256 (exact duplicates)
         → jieba words → word 3-gram shingles, hashed to a sorted set of uint32
         → MinHash signatures of the text and of its lead → LSH band keys
           (the catalog looks candidates up by them)
         → exact overlap of the shingle sets → is_reprint (Jaccard, containment, guards)

Measured on the labelled seed set (replica/labelled_dedupe.py): word 3-grams separate
reprints from quote-sharing near misses a little better than character 3–6-grams
and give half as many shingles per article (less to store and to intersect).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import numpy as np
import rjieba
import xxhash
from datasketch import MinHash

SHINGLE_WORDS = 3
NUM_PERM = 128
# datasketch's optimiser (MinHashLSH(threshold=0.5, num_perm=128, weights=(0.1, 0.9)))
# chooses 32 bands of 4 rows. Papers trim wire copy from the end, and a copy cut to 40%
# has Jaccard 0.4 with the full story, which those bands find only about half the time;
# but every trimmed copy keeps the lead, so 16 more bands come from the signature of the
# first LEAD_WORDS words alone (over 80 labelled sets: no story split in two, against 3
# with 42 whole-text bands of 3 rows). The catalog stores band keys: changing any of
# these constants, the MinHash seed or scheme means re-indexing.
BANDS, ROWS = 32, 4
LEAD_WORDS, LEAD_BANDS = 100, 16
SEED = 1
# Verification. A reprint shares at least half of the union of words with the story,
# or it is a trimmed copy: almost all of it (containment) is in the story, and it
# covers a fair share of the story. A commentary quoting one long paragraph fails
# both: its own text keeps containment low, the rest of the story keeps coverage low.
JACCARD_MIN = 0.5
CONTAINMENT_MIN = 0.8
COVERAGE_MIN = 0.3
# Below this many shingles (~60 characters) text is too short to tell a reprint from a
# shared phrase: such articles only match exactly.
MIN_SHINGLES = 25
# Under SHORT_SHINGLES (~200 characters: a caption, a brief) a shared opening alone passes
# the overlap test: two captions of one visit that share their first 60 characters have
# Jaccard 0.52. A match where either text is that short is confirmed by alignment
# (text.align.same_story), so the catalog keeps the text of every article that could
# meet a short one (size_allows_reprint).
SHORT_SHINGLES = 100

# Whitespace between two ASCII characters is a word space; anywhere else (CJK text)
# it is a PDF line break or layout and carries no meaning.
_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[\W_]+")
_PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=SEED).permutations  # affine32: uint32 (a, b)
_MIX = (np.uint64(0x9E3779B185EBCA87), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x94D049BB133111EB))


def _space(m: re.Match) -> str:
    s, before, after = m.string, m.start() - 1, m.end()
    return (
        " " if before >= 0 and after < len(s) and s[before].isascii() and s[after].isascii() else ""
    )


def normalise(text: str) -> str:
    """Text as compared: NFKC (full/half width), lower case, CJK line breaks removed."""
    return _SPACE.sub(_space, unicodedata.normalize("NFKC", text).lower()).strip()


def text_sha256(text: str) -> str:
    """The contract's `sha256`: equal for exact duplicates, whatever their layout."""
    return _sha256(normalise(text))


def words(text: str) -> list[str]:
    """jieba's words of the text, punctuation dropped.

    rjieba (the Rust port, ~20x faster) cuts exactly as jieba 0.42 does on the seed
    pages once punctuation is a separator; tests/test_dedupe.py checks that.
    """
    return _words(normalise(text))


def shingles(text: str) -> np.ndarray:
    """Sorted unique 32-bit hashes of the word 3-grams (of a shorter text: its words)."""
    return np.unique(_grams(words(text)))


def _sha256(normalised: str) -> str:
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def _words(normalised: str) -> list[str]:
    return [w for w in rjieba.cut(_PUNCT.sub(" ", normalised)) if not w.isspace()]


def _grams(w: list[str]) -> np.ndarray:
    """32-bit hashes of the word 3-grams in text order: words hashed once (xxh32),
    then three neighbours mixed with numpy (4x faster than hashing each joined 3-gram)."""
    h = np.fromiter(map(xxhash.xxh32_intdigest, map(str.encode, w)), np.uint64, len(w))
    if len(h) < SHINGLE_WORDS:
        return h.astype(np.uint32)
    x = (h[:-2] * _MIX[0]) ^ (h[1:-1] * _MIX[1]) ^ h[2:]
    x ^= x >> np.uint64(31)
    x *= _MIX[2]
    return (x ^ (x >> np.uint64(29))).astype(np.uint32)


def _signature(hashes: np.ndarray) -> np.ndarray:
    """MinHash signature in datasketch's "affine32" scheme, with its permutations.

    datasketch's MinHash.update_batch calls a hash function per element in Python
    (0.26 ms per signature here); these shingles are hashed already, and the same
    arithmetic on the whole array takes 0.07 ms. tests/test_dedupe.py checks that the
    values equal datasketch's.
    """
    h = hashes.astype(np.uint32)
    for shift, mult in (
        (16, 0x85EBCA6B),
        (13, 0xC2B2AE35),
    ):  # MurmurHash3's finalizer, as datasketch
        h = (h ^ (h >> np.uint32(shift))) * np.uint32(mult)
    h ^= h >> np.uint32(16)
    a, b = _PERMUTATIONS
    return (h[:, None] * a + b).min(axis=0)


def band_keys(grams: np.ndarray) -> list[int]:
    """LSH band keys of a text's 3-gram hashes (in text order), as signed 64-bit ints:
    BANDS from the whole text, then LEAD_BANDS from its first LEAD_WORDS words."""
    hashes = np.unique(grams)
    if len(hashes) < MIN_SHINGLES:
        return []
    whole, lead = _signature(hashes), _signature(np.unique(grams[:LEAD_WORDS]))
    rows = [whole[i * ROWS : (i + 1) * ROWS] for i in range(BANDS)] + [
        lead[i * ROWS : (i + 1) * ROWS] for i in range(LEAD_BANDS)
    ]
    return [xxhash.xxh64_intdigest(r.tobytes(), seed=i) - (1 << 63) for i, r in enumerate(rows)]


@dataclass(frozen=True)
class Fingerprint:
    sha256: str
    shingles: np.ndarray  # sorted unique uint32
    bands: list[int]


def fingerprint(text: str) -> Fingerprint:
    normalised = normalise(text)
    grams = _grams(_words(normalised))
    return Fingerprint(_sha256(normalised), np.unique(grams), band_keys(grams))


def pack(hashes: np.ndarray) -> bytes:
    return hashes.astype("<u4").tobytes()


def unpack(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<u4")


@dataclass(frozen=True)
class Overlap:
    jaccard: float
    containment: float  # share of the smaller set found in the larger
    coverage: float  # share of the larger set found in the smaller


def overlap(a: np.ndarray, b: np.ndarray) -> Overlap:
    shared = len(np.intersect1d(a, b, assume_unique=True))
    small, large = sorted((len(a), len(b)))
    if not shared:
        return Overlap(0.0, 0.0, 0.0)
    return Overlap(shared / (small + large - shared), shared / small, shared / large)


def size_allows_reprint(n_a: int, n_b: int) -> bool:
    """Whether sets of these sizes could pass is_reprint: both Jaccard and coverage are at
    most small/large, so the catalog skips hopeless candidates before reading their sets."""
    small, large = sorted((n_a, n_b))
    return small >= min(JACCARD_MIN, COVERAGE_MIN) * large


def needs_alignment(n_a: int, n_b: int) -> bool:
    """Whether a match between sets of these sizes must be confirmed by alignment."""
    return min(n_a, n_b) < SHORT_SHINGLES


def keeps_text(n: int) -> bool:
    """Whether the catalog keeps the text of an article of n shingles: it has band keys
    and could meet a text under SHORT_SHINGLES."""
    return MIN_SHINGLES <= n < SHORT_SHINGLES / min(JACCARD_MIN, COVERAGE_MIN)


def is_reprint(o: Overlap) -> bool:
    return o.jaccard >= JACCARD_MIN or (
        o.containment >= CONTAINMENT_MIN and o.coverage >= COVERAGE_MIN
    )


@cache
def _tfidf():
    import jieba.analyse  # loads jieba's IDF table (~0.5 s): only when keywords are asked for

    tfidf = jieba.analyse.TFIDF()
    tfidf.tokenizer = rjieba  # same words as jieba.dt.cut, without its 90 articles/s
    return tfidf


def keywords(text: str, k: int = 8) -> list[str]:
    """jieba's TF-IDF keywords (its IDF table and stop words) of the normalised text;
    numbers (dates, counts: "29") are no keywords."""
    return [w for w in _tfidf().extract_tags(normalise(text), topK=None) if not w.isdigit()][:k]
