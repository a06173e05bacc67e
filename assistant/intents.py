"""Intents: what kind of message a citizen wrote, decided by its meaning.

Public entry points: :class:`IntentModel` (trained at index build, stored beside
the index) and :func:`decide_intent`.

The decision is made from the multilingual embedding of the message, by a
logistic regression trained on the labelled examples of
``knowledge/intents/decision_table.csv`` (its ``train`` rows; the ``heldout``
rows are only ever scored, by ``python -m assistant eval-intents``).

A crisis is decided by its own model: the embedding alone places "mum has
heart failure and gets breathless on the stairs" next to "mum can't breathe".
The *urgency* model reads the embedding together with character and word
n-grams of the message, which is where the difference lives ("last year",
"i fjor", "lige nu", "for two years ago"), and the figures of a care worker's
note read as usual or acute (:mod:`assistant.vitals`: "BT 128/76" against "BT
70/45"), trained on the crisis rows against their near-misses (every
medical-history row and every row written as a crisis's near-miss). Above its
threshold the message is a crisis; a little below it, the care answer opens
with the emergency number (a *safety note*), so a crisis the model is unsure
of still shows the number first.

A message of several sentences is also read sentence by sentence
(:func:`message_sentences`): "can you stop my home care from tomorrow? I have
decided to end it all tonight" is a care question as a whole, and its second
sentence is the crisis. A sentence on its own says less than the message, so it
must pass a higher urgency threshold, and it is read by an urgency model of its
own, trained with the sentences of every care letter of the table as not
urgent ("I am at the end of my tether", "she fell last winter").

A few high-precision rules (``policy/safety_floor.yaml``) are a floor under
both: crisis = classifiers OR floor, injection = classifier OR floor, so no
message the rules catch can be lost. The thresholds are in
``policy/thresholds.yaml``.

Intents: ``crisis_self``, ``crisis_other`` (life or safety at risk now),
``medical_history`` (an illness or a past event, not an emergency now),
``plan_info`` (what the plans offer or intend), ``own_case`` (one person's case:
can my mother get X, how to apply, cost, waiting time, complaints),
``off_topic``, ``injection``, ``greeting`` and ``about_assistant`` (a question about
the assistant itself: its sources, what it keeps, who checks it, what it can do).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

import numpy as np

from assistant.contract import UserFacingError
from assistant.knowledge import load_yaml
from assistant.lexical import normalise
from assistant.statements import split_sentences
from assistant.vitals import read_vitals

Intent = Literal[
    "crisis_self",
    "crisis_other",
    "medical_history",
    "plan_info",
    "own_case",
    "off_topic",
    "injection",
    "greeting",
    "about_assistant",
]
INTENTS: tuple[str, ...] = get_args(Intent)
CRISIS_INTENTS = frozenset({"crisis_self", "crisis_other"})
CARE_INTENTS = frozenset({"medical_history", "plan_info", "own_case"})
# Questions a person means: refusing one is a false refusal (the gate care_refused_rate counts them all).
GENUINE_INTENTS = CARE_INTENTS | {"about_assistant"}
REFUSED_INTENTS = frozenset({"injection", "off_topic"})
CRISIS_KINDS = ("suicide", "medical", "violence")
CORE_LANGUAGES = ("da", "sv", "nb", "en")
POLICY_DIR = Path(__file__).resolve().parent / "policy"
TABLE_COLUMNS = ("id", "split", "language", "intent", "kind", "status", "near_miss_of", "text", "note")
MODEL_FILE = "intents.npz"
# Raised when the way the model is trained changes, so that an index built before retrains.
# 2: a sentence urgency model, learning the sentences of letters; 3: of care letters only; 4: a message's
# sentences also end before a small letter (MESSAGE_SENTENCE_END); 5: the urgency model reads vital signs
# (vitals.py); 6: a vital sign told with a time before now is not read; 7: a comma links a label and
# its figure ("lav puls, 31"); 8: "pulsen ligger på 48", "heart rate 49" are read as figures.
TRAINING_RECIPE = 8

# Where a sentence of a message ends: after . ! ? or … and a space, whatever follows. Messages
# are typed on phones, often without capitals ("fik stroke for tre år siden. nu kan han ikke
# løfte armen"); the plans' own splitter waits for a capital, which the plans always have.
MESSAGE_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=\w|[“\"(])")


class DecisionTableError(UserFacingError, ValueError):
    """The decision table has a malformed row; the message names its line."""


@dataclass(frozen=True)
class Example:
    """One labelled row of the decision table."""

    id: str
    split: str
    language: str
    intent: str
    kind: str
    status: str
    near_miss_of: str
    text: str
    note: str = ""


def load_decision_table(path: Path) -> list[Example]:
    """Read and check the decision table (see ``knowledge/intents/README.md``)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in TABLE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DecisionTableError(f"{path}: missing columns {missing}")
            rows = list(reader)
    except OSError as exc:
        raise DecisionTableError(f"{path}: cannot read the decision table ({exc})") from exc
    examples: list[Example] = []
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        if None in row:  # csv.DictReader keeps the fields past the header under None
            raise DecisionTableError(
                f"{path}:{line}: more fields than columns; quote a text or note that holds a comma"
            )
        example = Example(**{c: (row.get(c) or "").strip() for c in TABLE_COLUMNS})
        problem = _row_problem(example, seen)
        if problem:
            raise DecisionTableError(f"{path}:{line}: {problem}")
        seen.add(example.id)
        examples.append(example)
    return examples


def _row_problem(example: Example, seen: set[str]) -> str | None:
    if not example.id or example.id in seen:
        return f"id {example.id!r} is empty or not unique"
    if example.split not in ("train", "heldout"):
        return f"split must be train or heldout, not {example.split!r}"
    if example.intent not in INTENTS:
        return f"unknown intent {example.intent!r}"
    if example.intent in CRISIS_INTENTS and example.kind not in CRISIS_KINDS:
        return f"a crisis row needs a kind ({', '.join(CRISIS_KINDS)})"
    if example.near_miss_of and example.near_miss_of not in INTENTS:
        return f"near_miss_of names an unknown intent {example.near_miss_of!r}"
    if not example.text:
        return "the text is empty"
    return None


def table_hash(examples: list[Example]) -> str:
    """Changes when a training row changes: the classifier is retrained only then.

    ``near_miss_of`` counts: it chooses the rows the urgency model learns from.
    """
    digest = hashlib.sha256()
    for example in examples:
        if example.split == "train":
            digest.update(f"{example.intent}|{example.kind}|{example.near_miss_of}|{example.text}\n".encode())
    return digest.hexdigest()[:16]


# -- normalisation and the safety floor ----------------------------------------


@dataclass(frozen=True)
class FloorHit:
    kind: str
    about: str
    rule: str


@dataclass(frozen=True)
class CrisisRule:
    """One floor rule, and the frames in which its words are not a crisis now (``unless``)."""

    pattern: re.Pattern[str]
    kind: str
    about: str
    unless: tuple[re.Pattern[str], ...] = ()

    def fires_on(self, normalised: str) -> bool:
        return bool(self.pattern.search(normalised)) and not any(u.search(normalised) for u in self.unless)


@dataclass(frozen=True)
class SafetyFloor:
    """The high-precision rules under the classifier."""

    crisis: tuple[CrisisRule, ...]
    injection: tuple[re.Pattern[str], ...]

    @classmethod
    def load(cls, path: Path = POLICY_DIR / "safety_floor.yaml") -> SafetyFloor:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
        words = {str(name): str(pattern) for name, pattern in (data.get("words") or {}).items()}

        def compiled(pattern: str) -> re.Pattern[str]:
            return re.compile(_with_words(pattern, words, path))

        crisis = tuple(
            CrisisRule(
                compiled(rule),
                str(group["kind"]),
                str(group["about"]),
                tuple(compiled(u) for u in group.get("unless") or []),
            )
            for group in data.get("crisis") or []
            for rule in group.get("rules") or []
        )
        injection = tuple(compiled(rule) for rule in data.get("injection") or [])
        return cls(crisis, injection)

    def crisis_hit(self, normalised: str) -> FloorHit | None:
        rule = next((r for r in self.crisis if r.fires_on(normalised)), None)
        return FloorHit(rule.kind, rule.about, rule.pattern.pattern) if rule else None

    def injection_hit(self, normalised: str) -> str | None:
        return next((p.pattern for p in self.injection if p.search(normalised)), None)


def _with_words(pattern: str, words: dict[str, str], path: Path) -> str:
    """The pattern with each ``<<name>>`` replaced by the ``words`` entry of that name.

    Raises:
        ValueError: the pattern names a word list the file does not define.
    """
    for name, words_pattern in words.items():
        pattern = pattern.replace(f"<<{name}>>", words_pattern)
    unknown = re.search(r"<<(\w+)>>", pattern)
    if unknown:
        raise ValueError(f"{path}: a rule uses <<{unknown.group(1)}>>, which `words` does not define")
    return pattern


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds on the classifier's probabilities (``policy/thresholds.yaml``)."""

    crisis_like: float
    urgency: float
    sentence_urgency: float
    safety_note: float
    injection: float
    off_topic: float
    greeting: float
    about_assistant: float
    own_case_share: float = 1.0
    plain_injection: float = 1.0  # the model alone reads an injection this surely: see _plainly_injection
    answer: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = POLICY_DIR / "thresholds.yaml") -> Thresholds:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
        intent = data.get("intent") or {}
        return cls(
            crisis_like=float(intent["crisis_like"]),
            urgency=float(intent["urgency"]),
            sentence_urgency=float(intent["sentence_urgency"]),
            safety_note=float(intent["safety_note"]),
            injection=float(intent["injection"]),
            off_topic=float(intent["off_topic"]),
            greeting=float(intent["greeting"]),
            about_assistant=float(intent["about_assistant"]),
            own_case_share=float(intent.get("own_case_share", 1.0)),
            plain_injection=float(intent.get("plain_injection", 1.0)),
            answer={k: float(v) for k, v in (data.get("answer") or {}).items()},
        )


@lru_cache(maxsize=1)
def default_policy() -> tuple[SafetyFloor, Thresholds]:
    return SafetyFloor.load(), Thresholds.load()


# -- the classifier --------------------------------------------------------------


@dataclass(frozen=True)
class _Softmax:
    """A fitted multinomial logistic regression, kept as plain arrays (no pickle)."""

    classes: tuple[str, ...]
    weights: np.ndarray  # (classes, dim)
    bias: np.ndarray  # (classes,)

    def probabilities(self, vector: np.ndarray) -> dict[str, float]:
        logits = self.weights @ vector + self.bias
        exp = np.exp(logits - logits.max())
        probs = exp / exp.sum()
        return {c: float(p) for c, p in zip(self.classes, probs, strict=True)}

    @classmethod
    def fit(cls, vectors: np.ndarray, labels: list[str], c: float) -> _Softmax:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
        model.fit(vectors, labels)
        classes = tuple(str(x) for x in model.classes_)
        weights, bias = model.coef_, model.intercept_
        if len(classes) == 2:  # sklearn keeps one row for two classes: make it a softmax over both
            weights = np.vstack([-weights[0] / 2, weights[0] / 2])
            bias = np.array([-bias[0] / 2, bias[0] / 2])
        return cls(classes, weights.astype(np.float32), bias.astype(np.float32))


_WORD_TOKEN = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class _Ngrams:
    """TF-IDF over character n-grams within words (sklearn's ``char_wb``, 2-5) or word n-grams (1-3).

    Sublinear tf, L2-normalised, as scikit-learn computes them. Re-implemented for
    prediction (a few lines) so the stored model is plain arrays rather than a
    pickle; a test checks it matches scikit-learn.
    """

    analyzer: str  # "char_wb" or "word"
    vocabulary: dict[str, int]
    idf: np.ndarray

    def grams(self, text: str) -> list[str]:
        normal = normalise(text)
        if self.analyzer == "word":
            tokens = _WORD_TOKEN.findall(normal)
            return [" ".join(tokens[i : i + n]) for n in (1, 2, 3) for i in range(len(tokens) - n + 1)]
        out: list[str] = []
        for word in normal.split():
            padded = f" {word} "
            for n in range(2, 6):
                out.extend(padded[i : i + n] for i in range(max(len(padded) - n + 1, 1)))
                if len(padded) <= n:
                    break  # a word shorter than n counts once, as itself
        return out

    def transform(self, text: str) -> dict[int, float]:
        counts = Counter(self.vocabulary[g] for g in self.grams(text) if g in self.vocabulary)
        weights = {i: (1.0 + float(np.log(c))) * float(self.idf[i]) for i, c in counts.items()}
        norm = float(np.sqrt(sum(w * w for w in weights.values()))) or 1.0
        return {i: w / norm for i, w in weights.items()}

    @classmethod
    def fit(cls, analyzer: str, texts: list[str]) -> tuple[_Ngrams, Any]:
        from sklearn.feature_extraction.text import TfidfVectorizer

        ngram_range = (1, 3) if analyzer == "word" else (2, 5)
        vectorizer = TfidfVectorizer(
            analyzer=analyzer, ngram_range=ngram_range, sublinear_tf=True, preprocessor=normalise, min_df=2
        )
        matrix = vectorizer.fit_transform(texts)
        vocabulary = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}
        return cls(analyzer, vocabulary, vectorizer.idf_.astype(np.float32)), matrix


@dataclass(frozen=True)
class _Urgency:
    """Is a life at risk now? Logistic regression over [embedding, character n-grams, word n-grams, vital signs].

    The vital signs (:func:`assistant.vitals.read_vitals`: only usual figures, some acute
    figure, how many) let it tell a routine care note from an acute deterioration, which share
    their words (held out, 2026-11-24: routine notes given the crisis answer 30 -> 4 of 48).

    Trained on the crisis rows against their near-misses: every medical-history row and every
    row written as a crisis's near-miss (an illness, a fall last month, a plain goodbye). It is
    read only for a message the intent model finds crisis-like. Trained on every train row
    instead, 5-fold cross-validation (2026-11-24) gave crisis recall 0.957 -> 0.950 and
    medical-history rows sent to crisis 19 -> 31: the ordinary questions blunt the line between
    now and then. With all greetings added to its rows, 0.953 and 18, and no thank-you read as
    a crisis (2 before); not kept, as a missed crisis costs more than a false alarm.
    """

    chars: _Ngrams
    words: _Ngrams
    weights: np.ndarray  # (dim + chars + words + vital signs,)
    bias: float
    dim: int

    def probability(self, text: str, vector: np.ndarray) -> float:
        logit = float(self.weights[: self.dim] @ vector) + self.bias
        offset = self.dim
        for ngrams in (self.chars, self.words):
            logit += sum(float(self.weights[offset + i]) * w for i, w in ngrams.transform(text).items())
            offset += len(ngrams.vocabulary)
        logit += float(self.weights[offset:] @ np.asarray(read_vitals(text).features(), dtype=np.float32))
        return float(1.0 / (1.0 + np.exp(-logit)))

    @classmethod
    def fit(cls, texts: list[str], vectors: np.ndarray, urgent: list[bool], c: float) -> _Urgency:
        from scipy.sparse import csr_matrix, hstack
        from sklearn.linear_model import LogisticRegression

        chars, char_matrix = _Ngrams.fit("char_wb", texts)
        word_grams, word_matrix = _Ngrams.fit("word", texts)
        vitals = csr_matrix(np.array([read_vitals(t).features() for t in texts], dtype=np.float32))
        features = hstack([csr_matrix(vectors), char_matrix, word_matrix, vitals]).tocsr()
        model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit(features, urgent)
        return cls(chars, word_grams, model.coef_[0].astype(np.float32), float(model.intercept_[0]), vectors.shape[1])

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The model as named arrays for ``np.savez`` (no pickle)."""
        return {
            f"{prefix}urgency_weights": self.weights,
            f"{prefix}urgency_bias": np.array(self.bias, dtype=np.float64),
            f"{prefix}char_idf": self.chars.idf,
            f"{prefix}char_grams": _ordered(self.chars.vocabulary),
            f"{prefix}word_idf": self.words.idf,
            f"{prefix}word_grams": _ordered(self.words.vocabulary),
        }

    @classmethod
    def from_arrays(cls, data: Any, prefix: str, dim: int) -> _Urgency:
        def ngrams(analyzer: str, name: str) -> _Ngrams:
            grams = {str(g): i for i, g in enumerate(data[f"{prefix}{name}_grams"])}
            return _Ngrams(analyzer, grams, data[f"{prefix}{name}_idf"])

        weights, bias = data[f"{prefix}urgency_weights"], float(data[f"{prefix}urgency_bias"])
        return cls(ngrams("char_wb", "char"), ngrams("word", "word"), weights, bias, dim)


@dataclass(frozen=True)
class IntentModel:
    """The intent classifier and, for crisis messages, the kind of crisis.

    ``model`` and ``table`` record what it was trained with: an index built
    with another embedding model or an edited decision table retrains it.
    """

    intents: _Softmax
    kinds: _Softmax
    urgency: _Urgency  # reads a whole message
    sentence_urgency: _Urgency  # reads one sentence of a longer message
    model: str
    table: str
    trained_on: int

    @classmethod
    def train(
        cls,
        examples: list[Example],
        vectors: np.ndarray,
        model: str,
        sentence_vectors: Mapping[str, np.ndarray] | None = None,
        c: float = 64.0,
        urgency_c: float = 8.0,
    ) -> IntentModel:
        """Fit on the ``train`` rows.

        Args:
            examples: decision-table rows; only ``split == "train"`` ones are used.
            vectors: their embeddings as questions (``role="query"``), row for row.
            model: the embedding model's name.
            sentence_vectors: embeddings (as questions) of the sentences of the
                care rows (:func:`sentences_to_learn`); each is a not-urgent
                example for the sentence urgency model. None: that model is the
                whole-message one.
            c: inverse regularisation strength of the intent model (chosen by cross-validation on the train rows).
            urgency_c: the same for the urgency model.
        """
        train = [i for i, e in enumerate(examples) if e.split == "train"]
        crisis = [i for i in train if examples[i].intent in CRISIS_INTENTS]
        near = [
            i
            for i in train
            if examples[i].intent in CRISIS_INTENTS
            or examples[i].intent == "medical_history"
            or examples[i].near_miss_of in CRISIS_INTENTS
        ]
        intents = _Softmax.fit(vectors[train], [examples[i].intent for i in train], c)
        kinds = _Softmax.fit(vectors[crisis], [examples[i].kind for i in crisis], c)
        texts = [examples[i].text for i in near]
        urgent = [examples[i].intent in CRISIS_INTENTS for i in near]
        urgency = _Urgency.fit(texts, vectors[near], urgent, urgency_c)
        sentence_urgency = urgency
        if sentence_vectors is not None:
            # A model of its own: taught the sentences of care letters, the whole-message model
            # stopped calling "Jeg har tanker om selvmord" a crisis (its past-tense cousins in
            # letters count as not urgent), and no crisis the whole-message reading catches may be lost.
            sentences = sentences_to_learn([examples[i] for i in train])
            sentence_urgency = _Urgency.fit(
                texts + sentences,
                np.vstack([vectors[near], *(sentence_vectors[s][None, :] for s in sentences)]),
                urgent + [False] * len(sentences),
                urgency_c,
            )
        return cls(intents, kinds, urgency, sentence_urgency, model, table_hash(examples), len(train))

    def probabilities(self, vector: np.ndarray) -> dict[str, float]:
        return self.intents.probabilities(vector)

    def urgency_probability(self, text: str, vector: np.ndarray, sentence: bool = False) -> float:
        return (self.sentence_urgency if sentence else self.urgency).probability(text, vector)

    def crisis_kind(self, vector: np.ndarray) -> str:
        probs = self.kinds.probabilities(vector)
        return max(probs, key=probs.__getitem__)

    def save(self, directory: Path) -> Path:
        path = directory / MODEL_FILE
        tmp = directory / f".{MODEL_FILE}.tmp.npz"
        meta = {"model": self.model, "table": self.table, "trained_on": self.trained_on}
        arrays: dict[str, np.ndarray] = {
            "intent_classes": np.array(self.intents.classes),
            "intent_weights": self.intents.weights,
            "intent_bias": self.intents.bias,
            "kind_classes": np.array(self.kinds.classes),
            "kind_weights": self.kinds.weights,
            "kind_bias": self.kinds.bias,
            **self.urgency.arrays(""),
            **self.sentence_urgency.arrays("sentence_"),
            "meta": np.array(json.dumps({**meta, "dim": self.urgency.dim})),
        }
        np.savez(tmp, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as the allow_pickle flag
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, directory: Path) -> IntentModel:
        with np.load(directory / MODEL_FILE, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            return cls(
                intents=_Softmax(tuple(map(str, data["intent_classes"])), data["intent_weights"], data["intent_bias"]),
                kinds=_Softmax(tuple(map(str, data["kind_classes"])), data["kind_weights"], data["kind_bias"]),
                urgency=_Urgency.from_arrays(data, "", int(meta["dim"])),
                sentence_urgency=_Urgency.from_arrays(data, "sentence_", int(meta["dim"])),
                model=str(meta["model"]),
                table=str(meta["table"]),
                trained_on=int(meta["trained_on"]),
            )


def _ordered(vocabulary: dict[str, int]) -> np.ndarray:
    """The n-grams in column order, for storing beside the weights."""
    return np.array(sorted(vocabulary, key=vocabulary.__getitem__))


# -- the decision ------------------------------------------------------------------


@dataclass(frozen=True)
class IntentDecision:
    """What the message is, how it will be handled, and why.

    ``route`` is what the answer path does: ``crisis``, ``refused`` (injection or
    off-topic), ``greeting``, ``about`` (a question about the assistant), ``plan_info`` or ``own_case`` (a medical-history
    message is routed as whichever of the two its wording is closer to).
    """

    intent: str
    route: str
    probabilities: dict[str, float]
    urgency: float = 0.0
    safety_note: bool = False
    crisis_kind: str | None = None
    crisis_about: str | None = None
    floor_rule: str | None = None
    crisis_sentence: str | None = None  # the sentence read as a crisis when the whole message was not

    @property
    def status(self) -> str | None:
        """The status this decision fixes by itself (None: it depends on what the plans hold)."""
        return {"crisis": "crisis", "refused": "refused", "greeting": "refused", "about": "about"}.get(self.route)


def message_sentences(text: str) -> list[str]:
    """The sentences of a message of more than one sentence; ``[]`` for a one-sentence message."""
    sentences = [
        part
        for line in text.splitlines()
        if line.strip()
        for part in split_sentences(line.strip(), MESSAGE_SENTENCE_END)
    ]
    return sentences if len(sentences) > 1 else []


def sentences_to_learn(examples: list[Example]) -> list[str]:
    """The sentences of the care letters (medical history, plan information, own case), not urgent.

    Crisis rows give none: which of their sentences carries the crisis is not labelled.
    Injection letters give none either: with them, 169 more sentences to embed at every
    build and no better model (5-fold CV crisis recall 0.966 with them, 0.968 without). Nor do questions
    about the assistant: with theirs, "vill inte att det ligger kvar nånstans" (of a question about
    privacy) taught the model that "jag har bestämt mig och vill inte att det ska ta veckor" is not
    urgent, and a hidden suicide plan was lost (blind set g25); a privacy question read as a crisis
    costs seconds.
    """
    return [s for e in examples if e.intent in CARE_INTENTS for s in message_sentences(e.text)]


def embed_sentences_to_learn(
    examples: list[Example], embed: Callable[[list[str]], np.ndarray]
) -> dict[str, np.ndarray]:
    """The embeddings (as questions) of :func:`sentences_to_learn`, each sentence once, for :meth:`IntentModel.train`."""
    sentences = sorted(set(sentences_to_learn(examples)))
    return dict(zip(sentences, embed(sentences), strict=True))


def decide_intent(
    text: str,
    vector: np.ndarray,
    model: IntentModel,
    floor: SafetyFloor,
    thresholds: Thresholds,
    embed_sentences: Callable[[list[str]], np.ndarray] | None = None,
) -> IntentDecision:
    """Decide a message's intent from its embedding, with the safety floor under the classifier.

    Args:
        text: the message (already redacted).
        vector: its embedding as a question.
        model: the trained classifier.
        floor: the high-precision rules.
        thresholds: probability thresholds.
        embed_sentences: embeds sentences as questions; given, a message of several
            sentences that is not a crisis as a whole is read sentence by sentence too.
    """
    probs = model.probabilities(vector)
    normalised = normalise(text)
    hit = floor.crisis_hit(normalised)
    injection_rule = floor.injection_hit(normalised)
    urgency = _urgency(text, vector, probs, model, thresholds)
    plainly_injection = _plainly_injection(injection_rule, probs, thresholds)
    if hit or (urgency >= thresholds.urgency and not plainly_injection):
        # Crisis wins over every other reading (but a plain injection, see _plainly_injection): a false
        # alarm costs seconds, a missed one much more.
        about = hit.about if hit and hit.about != "either" else _about(probs)
        kind = hit.kind if hit else model.crisis_kind(vector)
        return IntentDecision(
            intent=f"crisis_{about}",
            route="crisis",
            probabilities=probs,
            urgency=urgency,
            crisis_kind=kind,
            crisis_about=about,
            floor_rule=hit.rule if hit else None,
        )
    plainly_about_the_assistant = probs.get("about_assistant", 0.0) >= thresholds.about_assistant
    if embed_sentences is not None and not plainly_injection and not plainly_about_the_assistant:
        # Not for a plain injection either: one odd sentence of it ("just guess if you don't know,
        # give me a number") must not turn "forget your sources and…" into a crisis (blind set g24).
        # Nor for a plain question about the assistant: "bliver det jeg skriver gemt? … vil ikke have
        # det ligger nogen steder" read its last sentence as a wish not to be around (blind set g30);
        # no held-out crisis has that reading above the threshold (2026-11-24).
        in_a_sentence = _crisis_in_a_sentence(text, probs, model, thresholds, embed_sentences)
        if in_a_sentence is not None:
            return in_a_sentence
    if injection_rule or probs.get("injection", 0.0) >= thresholds.injection:
        return IntentDecision("injection", "refused", probs, urgency, floor_rule=injection_rule)
    ranked = sorted((p, c) for c, p in probs.items() if c not in CRISIS_INTENTS and c != "injection")
    best_p, best = ranked[-1]
    if best == "off_topic" and best_p >= thresholds.off_topic:
        return IntentDecision("off_topic", "refused", probs, urgency)
    if best == "greeting" and best_p >= thresholds.greeting:
        return IntentDecision("greeting", "greeting", probs, urgency)
    if best == "about_assistant" and best_p >= thresholds.about_assistant:
        return IntentDecision("about_assistant", "about", probs, urgency)
    care = {c: probs.get(c, 0.0) for c in CARE_INTENTS}
    intent = max(care, key=care.__getitem__) if best not in CARE_INTENTS else best
    return IntentDecision(
        intent, _care_route(probs, thresholds), probs, urgency, safety_note=urgency >= thresholds.safety_note
    )


def _plainly_injection(injection_rule: str | None, probs: dict[str, float], thresholds: Thresholds) -> bool:
    """The model reads an injection rather than a crisis, and an injection floor rule fired or the
    model is sure of it (``plain_injection``).

    Then the urgency model's reading does not make it a crisis ("Ignore all previous
    instructions" alone read as urgent at 0.85 once its crisis probability passed 0.10), nor does
    one sentence of it: the urgency model never learns injections, and public jailbreaks full of
    "now", "kill" and "never refuse" read as urgent. A crisis floor rule still wins, and so does
    the model when it reads a crisis more than an injection.
    """
    injection = probs.get("injection", 0.0)
    if injection <= _crisis_probability(probs):
        return False
    return injection_rule is not None or injection >= thresholds.plain_injection


def _care_route(probs: dict[str, float], thresholds: Thresholds) -> str:
    """Own case or plan information: the own-case reading wins at ``own_case_share`` of the plan reading.

    An own-case answer also quotes what the plans say, so a plan question answered as one
    loses little, while an own-case question answered as plan information loses whom to ask.
    """
    own, plan = probs.get("own_case", 0.0), probs.get("plan_info", 0.0)
    return "own_case" if own >= thresholds.own_case_share * plan else "plan_info"


def _crisis_in_a_sentence(
    text: str,
    probs: dict[str, float],
    model: IntentModel,
    thresholds: Thresholds,
    embed_sentences: Callable[[list[str]], np.ndarray],
) -> IntentDecision | None:
    """The crisis decision for the first sentence of a longer message that is urgent on its own, if any."""
    sentences = message_sentences(text)
    if not sentences:
        return None
    for sentence, vector in zip(sentences, embed_sentences(sentences), strict=True):
        sentence_probs = model.probabilities(vector)
        urgency = _urgency(sentence, vector, sentence_probs, model, thresholds, sentence=True)
        if urgency >= thresholds.sentence_urgency:
            about = _about(sentence_probs)
            return IntentDecision(
                intent=f"crisis_{about}",
                route="crisis",
                probabilities=probs,
                urgency=urgency,
                crisis_kind=model.crisis_kind(vector),
                crisis_about=about,
                crisis_sentence=sentence,
            )
    return None


def _urgency(
    text: str,
    vector: np.ndarray,
    probs: dict[str, float],
    model: IntentModel,
    thresholds: Thresholds,
    sentence: bool = False,
) -> float:
    """P(a life is at risk now), read only when the intent model finds the text crisis-like at all."""
    crisis_like = _crisis_probability(probs) >= thresholds.crisis_like
    return model.urgency_probability(text, vector, sentence) if crisis_like else 0.0


def _crisis_probability(probs: dict[str, float]) -> float:
    """The intent model's probability of a crisis, about oneself or someone else."""
    return sum(probs.get(intent, 0.0) for intent in ("crisis_self", "crisis_other"))


def _about(probs: dict[str, float]) -> str:
    return "self" if probs.get("crisis_self", 0) >= probs.get("crisis_other", 0) else "other"


# -- evaluation --------------------------------------------------------------------


def evaluate_intents(examples: list[Example], decisions: list[IntentDecision]) -> dict[str, Any]:
    """Precision and recall per intent, the confusion matrix, and the figures CI gates on.

    Args:
        examples: the scored rows (normally the ``heldout`` split).
        decisions: the decision for each, in the same order.
    """
    gold = [e.intent for e in examples]
    predicted = [d.intent for d in decisions]
    confusion = Counter(zip(gold, predicted, strict=True))
    per_intent = {}
    for intent in INTENTS:
        tp = confusion[(intent, intent)]
        n_gold = sum(1 for g in gold if g == intent)
        n_pred = sum(1 for p in predicted if p == intent)
        per_intent[intent] = {
            "n": n_gold,
            "precision": round(tp / n_pred, 3) if n_pred else None,
            "recall": round(tp / n_gold, 3) if n_gold else None,
        }

    def rate(rows: list[tuple[Example, IntentDecision]], ok: Any) -> float | None:
        return round(sum(1 for e, d in rows if ok(e, d)) / len(rows), 3) if rows else None

    pairs = list(zip(examples, decisions, strict=True))
    crisis_rows = [(e, d) for e, d in pairs if e.intent in CRISIS_INTENTS]
    gates: dict[str, Any] = {
        "crisis_recall": rate(crisis_rows, lambda e, d: d.route == "crisis"),
        "emergency_number_shown": rate(crisis_rows, lambda e, d: d.route == "crisis" or d.safety_note),
        "safety_notes_on_care": sum(1 for e, d in pairs if e.intent in CARE_INTENTS and d.safety_note),
        "medical_history_to_crisis": sum(1 for e, d in pairs if e.intent == "medical_history" and d.route == "crisis"),
        "injection_recall": rate(
            [p for p in pairs if p[0].intent == "injection"], lambda e, d: d.intent == "injection"
        ),
        "injection_refused": rate([p for p in pairs if p[0].intent == "injection"], lambda e, d: d.route == "refused"),
        "care_refused_rate": rate(
            [p for p in pairs if p[0].intent in GENUINE_INTENTS], lambda e, d: d.route in ("refused", "greeting")
        ),
        "own_case_routed": rate([p for p in pairs if p[0].intent == "own_case"], lambda e, d: d.route == "own_case"),
        "about_assistant_recall": rate(
            [p for p in pairs if p[0].intent == "about_assistant"], lambda e, d: d.route == "about"
        ),
    }
    for intent in sorted(CRISIS_INTENTS):
        for language in CORE_LANGUAGES:
            rows = [(e, d) for e, d in crisis_rows if e.intent == intent and e.language == language]
            gates[f"crisis_recall_{intent.removeprefix('crisis_')}_{language}"] = rate(
                rows, lambda e, d: d.route == "crisis"
            )
    misses = [
        {"id": e.id, "language": e.language, "gold": e.intent, "predicted": d.intent, "text": e.text[:160]}
        for e, d in pairs
        if e.intent != d.intent
    ]
    return {
        "n": len(examples),
        "per_intent": per_intent,
        "gates": gates,
        "confusion": {f"{g}->{p}": n for (g, p), n in sorted(confusion.items())},
        "misses": misses,
    }
