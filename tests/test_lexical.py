"""Restoring Nordic letters in messages typed without them, and leaving alone those that have them."""

from __future__ import annotations

import pytest

from assistant.lexical import DiacriticRestorer

# A vocabulary as the plans give it: content words, not the languages' small words.
PLAN_WORDS = {"pårørende", "hjemmehjælp", "hemtjänst", "vår", "gør", "få"}


@pytest.fixture(scope="module")
def restorer() -> DiacriticRestorer:
    return DiacriticRestorer(PLAN_WORDS)


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("hvad tilbyder kommunen parorende", "hvad tilbyder kommunen pårørende"),
        ("Hemtjanst i Soderhamn?", "Hemtjänst i Soderhamn?"),
        ("kan jeg faa hjemmehjaelp", "kan jeg få hjemmehjælp"),
    ],
)
def test_a_message_typed_without_nordic_letters_gets_them_back(
    restorer: DiacriticRestorer, typed: str, read: str
) -> None:
    assert restorer.restore(typed) == read


@pytest.mark.parametrize(
    "typed",
    [
        # Whoever typed "lægen" has the keys: "var" is the Danish word, not "vår".
        "lægen siger det var blodtrykket, hvad gor vi",
        "min far får hjemmehjelp og vi er parorende",
    ],
)
def test_a_message_with_a_nordic_letter_is_read_as_typed(restorer: DiacriticRestorer, typed: str) -> None:
    assert restorer.restore(typed) == typed


def test_the_old_two_letter_spellings_are_restored_beside_a_nordic_letter(restorer: DiacriticRestorer) -> None:
    # "aa" for å, "ae" for æ are a way of writing, not a missing key: "hjemmehjaelp" is read.
    assert restorer.restore("min far får hjemmehjaelp") == "min far får hjemmehjælp"


def test_the_small_words_of_the_languages_are_never_restored(restorer: DiacriticRestorer) -> None:
    # Swedish "var" (where) is not in the plans' vocabulary, but it is a word as typed.
    assert restorer.restore("var ligger hemtjanst kontoret") == "var ligger hemtjänst kontoret"


def test_a_word_that_folds_from_two_languages_is_left_as_typed(restorer: DiacriticRestorer) -> None:
    # "gor" is Swedish "gör" or Danish "gør": retrieval searches both, the text keeps neither.
    assert restorer.restore("hvad gor kommunen") == "hvad gor kommunen"
    assert set(restorer.alternatives("hvad gor kommunen")) == {"gör", "gør"}
