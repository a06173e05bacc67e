"""Find and redact personal data that people type into a question.

Citizens sometimes paste their own or a relative's personal identity number,
e-mail address or phone number into the question box. Nothing like that may be
stored, logged or sent on to a language model, so every question passes
:func:`redact` first and the assistant shows the ``pii_warning`` prompt.

What is detected (``PiiMatch.kind``):

* ``cpr`` - Danish CPR number, DDMMYY-SSSS. Only the date is checked: the old
  modulus-11 rule was given up in 2007, so valid numbers can fail it.
* ``personnummer`` / ``samordningsnummer`` - Swedish YYMMDD-NNNC, YYMMDD+NNNC
  (people aged 100 or more) or YYYYMMDDNNNC, with a Luhn check digit and a
  valid date; a samordningsnummer has 60 added to the day.
* ``fodselsnummer`` / ``d_nummer`` - Norwegian DDMMYYIIIKK with both modulus-11
  control digits and a valid date; a D-nummer has 4 added to the first digit.
* ``email`` - e-mail addresses, also written with "(at)", "[at]" or "(dot)".
* ``phone`` - Danish, Swedish and Norwegian phone numbers, with or without
  +45/+46/+47 or 0045/0046/0047, and, because we would rather redact too much
  than keep someone's number, any other run of eight or more digits that is not
  a year range or a date (including ID-shaped numbers whose check digits fail).

Forms people really type are found too: a number glued to its label
("CPR0707614285", "pnr811218-9876", "fnr01129955131") and a date written with
dots ("07.07.61-4285").

When the checks of two countries both fit a ten-digit number (a CPR whose date
also reads as a Swedish YYMMDD and happens to pass Luhn), the words before it
decide ("CPR" -> cpr; "personnummer", "pnr", "samordningsnummer" -> Swedish,
unless the text is Danish: Danes say "personnummer" too), then the letters of
the text (æ/ø or ä/ö); otherwise the more likely reading wins. A Swedish
personnummer is the more likely one (every one of them passes Luhn, only one
CPR in ten does); against a samordningsnummer the CPR is (there are about six
times as many CPR numbers, and a samordningsnummer's year must also read as a day).

Why hand-written matching: no maintained library *finds* Nordic identity
numbers in free text. ``python-stdnum`` (a dependency) validates a number once
you have one - dates, centuries, Luhn and modulus-11 - so this module finds
candidates with regular expressions and lets stdnum decide what they are.

Raw values are never logged: :class:`PiiMatch` carries only the kind and the
offsets, and this module does no logging at all.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Literal

from stdnum import luhn
from stdnum.dk import cpr as dk_cpr
from stdnum.exceptions import ValidationError
from stdnum.no import fodselsnummer as no_fnr
from stdnum.se import personnummer as se_pnr

PiiKind = Literal["cpr", "personnummer", "samordningsnummer", "fodselsnummer", "d_nummer", "email", "phone"]


@dataclass(frozen=True)
class PiiMatch:
    """Where personal data was found. Deliberately holds no copy of the value."""

    kind: str
    start: int
    end: int


# Numbers the assistant itself prints in crisis messages: a person repeating
# them back ("is 70 201 201 open at night?") is not sharing personal data.
HELPLINE_NUMBERS: frozenset[str] = frozenset({"112", "113", "116123", "90101", "70201201"})

# A number must not continue a word or another number on either side; the
# second look-behind/ahead stops us matching the "250" in "1.250.000" or the
# "00" in "08.00".
# A letter right before the number is allowed: people glue the label to it ("CPR0707614285").
_START = r"(?<![\d+])(?<!\d[.,])"
_END = r"(?!\w)(?![.,]\d)"

# "@" or an "(at)" / "[at]" spelled out, and "(dot)" for the dots of the domain.
_AT = r"(?:@|\s?[(\[{]\s?at\s?[)\]}]\s?)"
_DOT = r"(?:\.|\s?[(\[{]\s?dot\s?[)\]}]\s?)"
_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+-]+" + _AT + r"[\w-]+(?:" + _DOT + r"[\w-]+)*" + _DOT + r"[^\W\d_]{2,}(?!\w)", re.IGNORECASE
)

# Identity numbers. The date part may be typed with spaces or dots ("01 02 45-1234", "07.07.61-4285").
_DATE6 = r"\d{2}[ .]?\d{2}[ .]?\d{2}"
_ID12 = re.compile(_START + r"(?:19|20)\d{2}[ .]?\d{2}[ .]?\d{2}[-+ ]?\d{4}" + _END)
_ID11 = re.compile(_START + _DATE6 + r"[- ]?(?:\d{5}|\d{3} \d{2})" + _END)
_ID10 = re.compile(_START + _DATE6 + r"[-+ ]?\d{4}" + _END)

# Phone numbers with a country prefix: +45, +46 (0)8-..., 0047 ...
_PHONE_INTL = re.compile(r"(?<![\w+])(?:\+ ?\d{1,3}|00(?:45|46|47))(?: ?\(0\))?(?:[ -]?\d){6,12}" + _END)
# Domestic forms: DK/NO "12 34 56 78", NO mobile "412 34 567", "1234 5678",
# SE "070-123 45 67", "08-123 456 78", and any unbroken run of 8+ digits.
_PHONE_LOCAL = [
    re.compile(_START + r"\d{2}[ -]?\d{2}[ -]?\d{2}[ -]?\d{2}" + _END),
    re.compile(_START + r"\d{3}[ -]?\d{2}[ -]?\d{3}" + _END),
    re.compile(_START + r"\d{4}[ -]\d{4}" + _END),
    re.compile(_START + r"0\d{1,3}[ -]?\d{2,3}[ -]?\d{2,3}(?:[ -]?\d{2,3})?" + _END),
    re.compile(_START + r"\d{8,}" + _END),
]

_YEAR_RANGE = re.compile(r"(?:19|20)\d\d(?: ?[-–] ?| )(?:19|20)\d\d")
_NUMERIC_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})|(\d{2})-(\d{2})-(\d{4})")

# Lower number = wins an overlap. IDs beat phones so that a valid CPR typed
# as "0101901234" is reported as a CPR and not as a ten-digit phone number.
_PRIORITY = {"email": 0, "id": 1, "phone_intl": 2, "phone": 3}


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def _swedish_kind(number: str, separator: str) -> PiiKind | None:
    """Classify 10 or 12 digits as a Swedish number, or None.

    ``separator`` is "+" for people aged 100 or more, which moves the century.
    """
    if not luhn.is_valid(number[-10:]):
        return None
    if se_pnr.is_valid(f"{number[:-4]}{separator or '-'}{number[-4:]}"):
        return "personnummer"
    # A samordningsnummer has 60 added to the day; stdnum does not know them.
    day = int(number[-6:-4])
    month = int(number[-8:-6])
    if day > 60:
        year = int(number[:4]) if len(number) == 12 else 2000  # 2000 is a leap year
        if _is_date(year, month, day - 60):
            return "samordningsnummer"
    return None


def _cpr_has_valid_date(number: str) -> bool:
    """CPR validity is only its date: the check digit was abandoned in 2007."""
    try:
        dk_cpr.get_birth_date(number)
    except ValidationError:
        return False
    return True


def _norwegian_kind(number: str) -> PiiKind | None:
    if not no_fnr.is_valid(number):
        return None
    return "d_nummer" if number[0] in "4567" else "fodselsnummer"


_DANISH_LABEL = re.compile(r"\bcpr", re.IGNORECASE)
_SWEDISH_LABEL = re.compile(r"personn|\bpnr|\bperson-?nr|samordningsn|\bsam-?nr", re.IGNORECASE)
_CONTEXT_CHARS = 30  # how far before a number its label may stand ("mit CPR-nummer er ...")


def _classify_id(text: str, before: str = "", whole: str = "") -> PiiKind | None:
    """What an ID-shaped match is, or None if no check digit or date fits.

    Args:
        text: the match.
        before: the text just before it (its label, if any).
        whole: the whole text (its letters hint at the language).
    """
    number = _digits(text)
    separator = "+" if "+" in text else ""
    if len(number) == 12:
        return _swedish_kind(number, separator)
    if len(number) == 11:
        return _norwegian_kind(number)
    if len(number) != 10:
        return None
    swedish = _swedish_kind(number, separator)
    danish = _cpr_has_valid_date(number)
    if not (swedish and danish):
        return swedish or ("cpr" if danish else None)
    return _cpr_or_swedish(swedish, before, whole)


def _cpr_or_swedish(swedish: PiiKind, before: str, whole: str) -> PiiKind:
    """Both readings fit: the label decides, then the letters of the text, then the likelier reading."""
    label = before[-_CONTEXT_CHARS:]
    danish_letters = bool(re.search(r"[æøÆØ]", whole)) and not re.search(r"[äöÄÖ]", whole)
    swedish_letters = bool(re.search(r"[äöÄÖ]", whole)) and not re.search(r"[æøÆØ]", whole)
    if _DANISH_LABEL.search(label):
        return "cpr"
    if _SWEDISH_LABEL.search(label):
        return "cpr" if danish_letters else swedish
    if danish_letters:
        return "cpr"
    if swedish_letters:
        return swedish
    return "personnummer" if swedish == "personnummer" else "cpr"


def _is_not_personal(text: str) -> bool:
    """Numbers that look long but are plan periods, dates or our own helplines."""
    stripped = text.strip()
    if _YEAR_RANGE.fullmatch(stripped):
        return True
    date = _NUMERIC_DATE.fullmatch(stripped)
    if date:
        parts = [int(p) for p in date.groups() if p is not None]
        year, month, day = parts if len(date.group(1) or "") == 4 else parts[::-1]
        if _is_date(year, month, day):
            return True
    digits = _digits(stripped)
    for prefix in ("45", "46", "47", "0045", "0046", "0047"):
        if stripped.startswith(("+", "00")) and digits.startswith(prefix):
            digits = digits[len(prefix) :]
            break
    return digits in HELPLINE_NUMBERS


def _candidates(text: str) -> list[tuple[int, int, int, str]]:
    """Every possible match as (priority, start, end, kind), overlaps included."""
    found: list[tuple[int, int, int, str]] = []
    for m in _EMAIL.finditer(text):
        found.append((_PRIORITY["email"], m.start(), m.end(), "email"))
    for pattern in (_ID12, _ID11, _ID10):
        for m in pattern.finditer(text):
            kind = _classify_id(m.group(), text[max(0, m.start() - _CONTEXT_CHARS) : m.start()], text)
            # An ID-shaped number whose checks fail still has 10+ digits: we
            # redact it as a phone number rather than let a typo'd ID through.
            found.append((_PRIORITY["id"] if kind else _PRIORITY["phone"], m.start(), m.end(), kind or "phone"))
    for m in _PHONE_INTL.finditer(text):
        if not _is_not_personal(m.group()):
            found.append((_PRIORITY["phone_intl"], m.start(), m.end(), "phone"))
    for pattern in _PHONE_LOCAL:
        for m in pattern.finditer(text):
            if len(_digits(m.group())) >= 8 and not _is_not_personal(m.group()):
                found.append((_PRIORITY["phone"], m.start(), m.end(), "phone"))
    return found


def find_pii(text: str) -> list[PiiMatch]:
    """All personal data in ``text``, non-overlapping, in order of position."""
    chosen: list[PiiMatch] = []
    # Best kind first, then the longest match, so "+45 12 34 56 78" is one
    # phone number and not "+45 12" plus "34 56 78".
    for _, start, end, kind in sorted(_candidates(text), key=lambda c: (c[0], c[1] - c[2], c[1])):
        if all(end <= m.start or start >= m.end for m in chosen):
            chosen.append(PiiMatch(kind=kind, start=start, end=end))
    return sorted(chosen, key=lambda m: m.start)


def redact(text: str) -> tuple[str, list[PiiMatch]]:
    """Replace each match by a language-neutral token such as ``[cpr]``.

    Returns the redacted text and the matches (offsets refer to the original).
    """
    matches = find_pii(text)
    parts: list[str] = []
    position = 0
    for m in matches:
        parts.append(text[position : m.start])
        parts.append(f"[{m.kind}]")
        position = m.end
    parts.append(text[position:])
    return "".join(parts), matches


def contains_pii(text: str) -> bool:
    return bool(find_pii(text))
