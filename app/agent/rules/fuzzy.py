"""Words as people type them: a keyword is matched despite one typo (a letter missing, extra, wrong, or two
letters swapped). Pure, and quick: one set lookup per deletion of the word, not a distance per keyword."""

from __future__ import annotations

from collections.abc import Iterable

MIN_FUZZY_LENGTH = 5


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class Vocabulary:
    """Keywords, each standing for a concept; `concept_of` finds the concept a typed word stands for."""

    def __init__(self, concepts: dict[str, Iterable[str]], plain_words: Iterable[str] = ()) -> None:
        # Words of their own ("sorry" is no typo of "worry"): matched exactly or not at all.
        self._plain = frozenset(plain_words)
        self._exact: dict[str, str] = {}
        for concept, words in concepts.items():
            for word in words:
                self._exact.setdefault(word, concept)
        self._by_deletion: dict[str, list[tuple[str, str]]] = {}
        for word, concept in self._exact.items():
            if len(word) >= MIN_FUZZY_LENGTH:
                for deleted in _deletions(word):
                    self._by_deletion.setdefault(deleted, []).append((word, concept))

    def concept_of(self, word: str) -> str | None:
        exact = self._exact.get(word)
        if exact is not None or len(word) < MIN_FUZZY_LENGTH - 1 or word in self._plain:
            return exact
        # One letter extra in what was typed.
        for deleted in _deletions(word):
            if deleted in self._exact and len(deleted) >= MIN_FUZZY_LENGTH - 1:
                return self._exact[deleted]
        # One letter missing.
        for _, concept in self._by_deletion.get(word, ()):
            return concept
        # One letter wrong, or two swapped: a deletion in common, same length.
        for deleted in _deletions(word):
            for keyword, concept in self._by_deletion.get(deleted, ()):
                if len(keyword) == len(word):
                    return concept
        return None
