"""BIP39 recovery phrases: generate, validate (with word suggestions) and turn into a seed.

A mistyped word is the most common import failure, so validation reports *which* word is wrong and
offers the nearest words from the English list instead of a bare "invalid mnemonic".
"""

from __future__ import annotations

import difflib
import unicodedata

from mnemonic import Mnemonic

from app.wallet.errors import InvalidMnemonic

VALID_WORD_COUNTS = (12, 15, 18, 21, 24)
_STRENGTH_FOR_WORDS = {12: 128, 15: 160, 18: 192, 21: 224, 24: 256}

_BIP39 = Mnemonic("english")
WORDLIST: tuple[str, ...] = tuple(_BIP39.wordlist)
_WORDSET = frozenset(WORDLIST)


def generate_mnemonic(words: int = 12) -> str:
    """A fresh phrase of 12 or 24 words from the OS random source."""
    if words not in (12, 24):
        raise InvalidMnemonic("A new recovery phrase has 12 or 24 words.")
    return _BIP39.generate(strength=_STRENGTH_FOR_WORDS[words])


def suggest_words(word: str, limit: int = 4) -> list[str]:
    """Words from the list that the user probably meant, closest first.

    Every BIP39 word is unique in its first four letters, so a 4-letter prefix match comes first;
    the rest are ranked by similarity (catches swapped, missing and doubled letters).
    """
    w = word.strip().lower()
    if not w:
        return []
    first = [x for x in WORDLIST if len(w) >= 4 and x.startswith(w[:4])]
    pool = {x for x in WORDLIST if x.startswith(w[:2])}
    pool.update(difflib.get_close_matches(w, WORDLIST, n=12, cutoff=0.5))
    ranked = sorted(
        pool - set(first), key=lambda x: (-difflib.SequenceMatcher(None, w, x).ratio(), x)
    )
    return [*first, *ranked][:limit]


def normalize_mnemonic(phrase: str) -> list[str]:
    text = unicodedata.normalize("NFKD", phrase).lower()
    return text.split()


def validate_mnemonic(phrase: str) -> str:
    """Return the phrase in canonical form (single spaces, lower case) else ``InvalidMnemonic``."""
    words = normalize_mnemonic(phrase)
    if not words:
        raise InvalidMnemonic("Enter your recovery phrase (12 or 24 words).")
    unknown = {i + 1: suggest_words(w) for i, w in enumerate(words) if w not in _WORDSET}
    if unknown:
        parts = []
        for pos, sugg in unknown.items():
            hint = f" (did you mean {', '.join(sugg)}?)" if sugg else ""
            parts.append(f"word {pos} \u201c{words[pos - 1]}\u201d{hint}")
        raise InvalidMnemonic(
            "Some words are not in the recovery word list: " + "; ".join(parts) + ".",
            suggestions=unknown,
        )
    if len(words) not in VALID_WORD_COUNTS:
        raise InvalidMnemonic(f"A recovery phrase has 12 or 24 words; this one has {len(words)}.")
    canonical = " ".join(words)
    if not _BIP39.check(canonical):
        raise InvalidMnemonic(
            "These words are all valid, but the phrase does not add up (its checksum is wrong). "
            "Check the order and look for a swapped or mistyped word."
        )
    return canonical


def mnemonic_to_seed(phrase: str, passphrase: str = "") -> bytes:
    """The 64-byte BIP39 seed (PBKDF2-HMAC-SHA512, 2048 rounds, salt "mnemonic"+passphrase)."""
    return Mnemonic.to_seed(validate_mnemonic(phrase), passphrase)
