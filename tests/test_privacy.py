"""Tests for assistant.privacy: Nordic ID numbers, e-mail, phone numbers.

Check digits are computed here independently of python-stdnum, so a change in
the library (or in how we call it) shows up as a failure.
"""

from __future__ import annotations

import re

import pytest

from assistant.privacy import PiiMatch, contains_pii, find_pii, redact


def luhn_digit(digits: str) -> str:
    """Luhn check digit for a Swedish personnummer's first nine digits."""
    total = 0
    for i, ch in enumerate(digits):
        n = int(ch) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


def nor_control_digits(nine: str) -> str:
    """The two modulus-11 control digits of a Norwegian fødselsnummer."""
    w1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
    w2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    k1 = (11 - sum(w * int(d) for w, d in zip(w1, nine, strict=True))) % 11
    k2 = (11 - sum(w * int(d) for w, d in zip(w2, nine + str(k1), strict=True))) % 11
    assert k1 < 10 and k2 < 10, "pick another serial: this one has no valid control digit"
    return f"{k1}{k2}"


def kinds(text: str) -> list[str]:
    return [m.kind for m in find_pii(text)]


def assert_no_digits_left(text: str) -> None:
    redacted, matches = redact(text)
    assert matches, text
    assert not re.search(r"\d", redacted), redacted


# --- the helpers themselves, against published examples ---------------------


def test_helpers_reproduce_published_numbers() -> None:
    assert luhn_digit("811228984") == "1"  # 811228-9841, a published example
    assert nor_control_digits("151086950") == "88"  # 151086 95088


# --- Swedish personnummer and samordningsnummer ------------------------------

SE_VALID = "811228-9841"
SE_BASE = "880320001"
SE_VALID_2 = f"{SE_BASE[:6]}-{SE_BASE[6:]}{luhn_digit(SE_BASE)}"  # 880320-0016


@pytest.mark.parametrize(
    "text",
    [
        f"Mitt personnummer är {SE_VALID}.",
        f"Mitt personnummer är {SE_VALID.replace('-', '')}.",
        f"Mitt personnummer är 19{SE_VALID}.",
        f"Mitt personnummer är 19{SE_VALID.replace('-', '')}.",
        f"Mitt personnummer är {SE_VALID.replace('-', ' ')}.",
        f"Pappa är 100 år: {SE_VALID_2.replace('-', '+')}",
        f"Hon har {SE_VALID_2}",
    ],
)
def test_swedish_personnummer_is_found(text: str) -> None:
    assert kinds(text) == ["personnummer"]


def test_swedish_personnummer_with_wrong_check_digit_is_not_a_personnummer() -> None:
    wrong = SE_VALID[:-1] + str((int(SE_VALID[-1]) + 1) % 10)
    assert "personnummer" not in kinds(f"Personnummer {wrong}")
    # ... but ten digits are still redacted: better too much than a leak.
    assert contains_pii(f"Personnummer {wrong}")


def test_swedish_personnummer_with_impossible_date_is_not_a_personnummer() -> None:
    base = "881320001"  # month 13
    assert "personnummer" not in kinds(f"nr {base[:6]}-{base[6:]}{luhn_digit(base)}")


def test_samordningsnummer_is_found_in_both_lengths() -> None:
    base = "701063239"  # born 3 October 1970: day 03 + 60 = 63
    number = f"{base[:6]}-{base[6:]}{luhn_digit(base)}"
    assert kinds(f"Mitt samordningsnummer är {number}") == ["samordningsnummer"]
    assert kinds(f"Samordningsnummer 19{number.replace('-', '')}") == ["samordningsnummer"]


def test_samordningsnummer_with_wrong_check_digit_is_not_one() -> None:
    base = "701063239"
    bad = str((int(luhn_digit(base)) + 5) % 10)
    assert "samordningsnummer" not in kinds(f"nr {base[:6]}-{base[6:]}{bad}")


def test_samordningsnummer_with_impossible_date_is_not_one() -> None:
    base = "700291239"  # 31 February + 60
    assert "samordningsnummer" not in kinds(f"nr {base[:6]}-{base[6:]}{luhn_digit(base)}")


# --- Danish CPR ---------------------------------------------------------------


@pytest.mark.parametrize("number", ["010190-1234", "0101901234", "010190 1234", "24 12 45-3801"])
def test_cpr_with_valid_date_is_found(number: str) -> None:
    assert kinds(f"Mit CPR-nummer er {number}, kan I hjælpe?") == ["cpr"]


def test_cpr_does_not_require_the_old_modulus_11_rule() -> None:
    number = "0101901234"
    weights = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
    assert sum(w * int(d) for w, d in zip(weights, number, strict=True)) % 11 != 0  # fails mod 11
    assert kinds(number) == ["cpr"]


@pytest.mark.parametrize("number", ["320190-1234", "311190-1234", "011390-1234", "290221-4000"])
def test_cpr_with_invalid_date_is_not_a_cpr(number: str) -> None:
    # 32nd day, 31 November, month 13, 29 February in a non-leap year (2021).
    assert "cpr" not in kinds(number)


def test_ten_digits_with_a_valid_date_but_no_swedish_checksum_count_as_cpr() -> None:
    base = "880320001"  # valid as YYMMDD, not as DDMMYY: that one is Swedish
    good = luhn_digit(base)
    wrong = str((int(good) + 1) % 10)
    assert kinds(f"{base[:6]}-{base[6:]}{good}") == ["personnummer"]
    assert "cpr" not in kinds(f"{base[:6]}-{base[6:]}{wrong}")  # 88 is no day
    # 150580-... is a valid DDMMYY date and, with a wrong Luhn digit, a CPR.
    base = "150580123"
    wrong = str((int(luhn_digit(base)) + 1) % 10)
    assert kinds(f"{base[:6]}-{base[6:]}{wrong}") == ["cpr"]


# --- Norwegian fødselsnummer and D-nummer --------------------------------------


@pytest.mark.parametrize("number", ["15108695088", "151086 95088", "151086-95088"])
def test_fodselsnummer_is_found(number: str) -> None:
    assert kinds(f"Fødselsnummeret mitt er {number}.") == ["fodselsnummer"]


def test_fodselsnummer_built_here_is_found() -> None:
    nine = "020190121"  # born 2 January 1990, individual number 121
    assert kinds(nine + nor_control_digits(nine)) == ["fodselsnummer"]


@pytest.mark.parametrize("number", ["15108695077", "15108695089", "15108695098"])
def test_fodselsnummer_with_wrong_control_digits_is_not_one(number: str) -> None:
    assert "fodselsnummer" not in kinds(number)
    assert "d_nummer" not in kinds(number)


def test_fodselsnummer_with_impossible_date_is_not_one() -> None:
    nine = "310290124"  # 31 February
    assert "fodselsnummer" not in kinds(nine + nor_control_digits(nine))


def test_d_nummer_is_found() -> None:
    nine = "410190123"  # born 1 January 1990: first digit + 4
    number = nine + nor_control_digits(nine)
    assert kinds(f"D-nummer {number}") == ["d_nummer"]
    assert kinds(f"D-nummer {number[:6]} {number[6:]}") == ["d_nummer"]


def test_d_nummer_with_wrong_control_digit_is_not_one() -> None:
    nine = "410190123"
    good = nor_control_digits(nine)
    bad = good[0] + str((int(good[1]) + 1) % 10)
    assert "d_nummer" not in kinds(nine + bad)


# --- redaction removes every digit of an ID ------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Mit CPR er 010190-1234",
        "Mit CPR er 0101901234",
        "Personnummer: 19811228-9841",
        "Personnummer: 811228+9841",
        "Fødselsnummer 151086 95088",
        "Ring til mig på 12 34 56 78",
        "Ring på +46 (0)70-123 45 67",
        "Skriv til anna.hansen1950@example.dk",
    ],
)
def test_redaction_leaves_no_digits_of_the_value(text: str) -> None:
    assert_no_digits_left(text)


def test_redact_uses_language_neutral_tokens_and_keeps_the_rest() -> None:
    text = "Min mor (010190-1234) har mail mor@example.dk og tlf. 12 34 56 78. Kan hun få hjemmehjælp?"
    redacted, matches = redact(text)
    assert redacted == "Min mor ([cpr]) har mail [email] og tlf. [phone]. Kan hun få hjemmehjælp?"
    assert [m.kind for m in matches] == ["cpr", "email", "phone"]
    # Offsets point into the original text.
    assert [text[m.start : m.end] for m in matches] == ["010190-1234", "mor@example.dk", "12 34 56 78"]


def test_redact_without_personal_data_returns_the_text_unchanged() -> None:
    text = "Hvad siger planen 2021-2022 om demens?"
    assert redact(text) == (text, [])


def test_match_does_not_carry_the_value() -> None:
    match = find_pii("CPR 010190-1234")[0]
    assert match == PiiMatch(kind="cpr", start=4, end=15)
    assert "1234" not in repr(match)


# --- e-mail ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["anna.hansen@example.dk", "per+omsorg@kommune.no", "märta.öberg@exempel.se", "J.SMITH@Example.CO.UK"],
)
def test_email_is_found(address: str) -> None:
    text = f"Min e-mail er {address}."
    matches = find_pii(text)
    assert [m.kind for m in matches] == ["email"]
    assert text[matches[0].start : matches[0].end] == address


@pytest.mark.parametrize("text", ["Skriv @kommunen på Facebook", "Mail os på kommunens hjemmeside", "a@b"])
def test_not_an_email(text: str) -> None:
    assert "email" not in kinds(text)


# --- phone numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        # Denmark
        "12 34 56 78",
        "12345678",
        "+45 12 34 56 78",
        "+4512345678",
        "0045 12345678",
        "1234 5678",
        # Sweden
        "070-123 45 67",
        "08-123 456 78",
        "031-12 34 56",
        "+46 70 123 45 67",
        "+46 (0)8-123 456 78",
        "0046 8 123 456 78",
        # Norway
        "412 34 567",
        "22 33 44 55",
        "+47 412 34 567",
        "0047 22334455",
    ],
)
def test_phone_numbers_are_found(number: str) -> None:
    text = f"Ring til mig på {number}, tak."
    matches = find_pii(text)
    assert [m.kind for m in matches] == ["phone"], number
    assert text[matches[0].start : matches[0].end] == number
    assert_no_digits_left(number)


@pytest.mark.parametrize(
    "text",
    [
        # Plan periods and years
        "Plan for perioden 2020-2023",
        "Handlingsplan 2021-22",
        "Strategi 2020–2030",
        "Vision 2030 og budget 2024 2025",
        "i perioden 2020 - 2023 og 2024-2028",
        "I perioden 2020-2023 12 nye pladser",
        # Dates and times
        "Mødet er 2024-03-12 kl. 10",
        "Mødet er 12-03-2024",
        "Mødet er 12.03.2024",
        "Åbent kl. 08.00-16.00",
        # Amounts and counts
        "Budgettet er 1.250.000 kr.",
        "Budgettet er 12 500 000 kr.",
        "Der er 2.500 borgere over 80 år",
        "Servicelovens § 83 og § 83a",
        # The helplines the assistant prints itself
        "Er Livslinien 70 201 201 åben om natten?",
        "Livslinien 70201201",
        "Självmordslinjen 90101",
        "Ring 112 eller 113",
        "Mental Helse 116 123",
        "+45 70 201 201",
    ],
)
def test_periods_dates_amounts_and_helplines_are_not_personal_data(text: str) -> None:
    assert find_pii(text) == [], text
    assert not contains_pii(text)


def test_several_kinds_in_one_text_are_all_found_in_order() -> None:
    text = (
        "Jeg hedder Ole, CPR 010190-1234. Min søster i Sverige har 811228-9841, "
        "min bror i Norge 151086 95088. Ring 12 34 56 78 eller +46 70 123 45 67, "
        "eller skriv til ole@example.dk."
    )
    assert kinds(text) == ["cpr", "personnummer", "fodselsnummer", "phone", "phone", "email"]
    redacted, _ = redact(text)
    assert not re.search(r"\d{3}", redacted)


def test_unbroken_ten_digits_that_could_be_a_cpr_are_reported_as_cpr() -> None:
    # 0701234567 is a Swedish mobile number and also CPR 070123-4567 (7 January
    # 2023). Either way it is redacted; the brief rule is "valid date -> cpr".
    assert kinds("Ring 0701234567") == ["cpr"]
    assert_no_digits_left("0701234567")


def test_long_unknown_numbers_are_redacted_rather_than_kept() -> None:
    assert kinds("Sagsnummer 123456-7890") == ["phone"]
    assert kinds("Kontonummer 12345678901234") == ["phone"]
    assert kinds("Kode 1234567") == []  # seven digits is not enough to be sure


# --- forms people really type (issue 10): glued labels, dotted dates, "(at)" -----


@pytest.mark.parametrize(
    ("text", "kind", "secret"),
    [
        ("CPR0707614285", "cpr", "0707614285"),
        ("pnr811218-9876", "personnummer", "811218-9876"),
        # The control digits fail, so it is no fødselsnummer; eleven digits are redacted all the same.
        ("fnr01129955131", "phone", "01129955131"),
        ("07.07.61-4285", "cpr", "07.07.61"),
        ("jens.hansen(at)example.dk", "email", "hansen"),
    ],
)
def test_glued_dotted_and_at_forms_are_redacted(text: str, kind: str, secret: str) -> None:
    redacted, matches = redact(f"Hej, {text} - kan I hjælpe?")
    assert [m.kind for m in matches] == [kind]
    assert secret not in redacted and f"[{kind}]" in redacted
    assert not re.search(r"\d{3}", redacted)


@pytest.mark.parametrize(
    "text",
    ["skriv til jens [at] example [dot] dk", "mail: Jens.Hansen (AT) example.dk", "jens{at}example.co.uk"],
)
def test_spelled_out_at_and_dot_are_emails(text: str) -> None:
    assert kinds(text) == ["email"]


def test_a_danish_cpr_is_not_a_samordningsnummer() -> None:
    # 070761-4285 is a valid CPR (7 July 1961) and, read as Swedish YYMMDD, a samordningsnummer
    # (1 July 2007 + 60) whose Luhn digit fits: the checks alone cannot tell.
    assert luhn_digit("070761428") == "5"
    assert kinds("CPR 070761-4285") == ["cpr"]
    assert kinds("Mit CPR-nummer er 0707614285") == ["cpr"]
    assert kinds("Mit personnummer er 070761-4285, kan jeg få hjælp?") == ["cpr"]  # Danish text, Danish word
    assert kinds("Min mor bor i Næstved: 070761-4285") == ["cpr"]  # æ/ø: a Danish text
    assert kinds("070761-4285") == ["cpr"]  # no label, no letters: the likelier reading
    # The Swedish word in a Swedish text keeps the Swedish reading.
    assert kinds("Mitt samordningsnummer är 070761-4285") == ["samordningsnummer"]


def test_labels_only_decide_between_readings_the_checks_allow() -> None:
    assert kinds(f"CPR {SE_VALID}") == ["personnummer"]  # 81 is no day: only the Swedish reading fits
    assert kinds(f"personnummer {SE_VALID}") == ["personnummer"]
    assert kinds("fødselsnummer 15108695088") == ["fodselsnummer"]
    # Both fit and nothing tells them apart: every personnummer passes Luhn, one CPR in ten does.
    base = "120512123"  # 12 May 2012 read either way
    both = f"{base[:6]}-{base[6:]}{luhn_digit(base)}"
    assert kinds(both) == ["personnummer"]
    assert kinds(f"CPR {both}") == ["cpr"]
    assert kinds(f"Hej, jeg bor i Næstved, {both}") == ["cpr"]
    base = "120580123"  # 12 May 1980 as a CPR; 1912-05-80 is no Swedish date
    assert kinds(f"{base[:6]}-{base[6:]}{luhn_digit(base)}") == ["cpr"]


def test_dotted_times_dates_and_amounts_stay() -> None:
    for text in ("Åbent kl. 08.00-16.00", "Mødet er 12.03.2024", "Budgettet er 1.250.000 kr.", "Vision2030"):
        assert find_pii(text) == [], text
