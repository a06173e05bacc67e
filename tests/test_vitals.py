"""The vital-signs reader, and the urgency model that reads its figures (real model, real index)."""

from __future__ import annotations

import pytest

from assistant.vitals import Vitals, read_vitals


@pytest.mark.parametrize(
    ("text", "usual", "acute"),
    [
        # usual figures, in care workers' shorthand in four languages
        ("Rapport kvällspass: rum 7 NEWS 1, BT 132/80, puls 68, sat 96, åt bra", 4, 0),
        ("Dagsnotat: metning 96, RF 15, puls 69, ingen tung pust", 3, 0),
        ("BG 6.9 after breakfast, temp 37.1", 2, 0),
        ("min mors smartwatch advarede om lav puls, 31, og hun er besvimet", 0, 1),  # a comma between label and figure
        ("Puls, blodtryk og temperatur blev målt kl. 8 i morges", 0, 0),  # a comma in a list of labels
        ("sat 90, det plejer hun at ligge på", 1, 0),  # told as the person's usual
        ("Hun plejer at ligge på sat 90, men nu er sat 78", 1, 1),  # her usual 90, then "now": the 78 is acute
        ("BT 175/100 igen i dag, ingen symptomer, lægen ved det", 1, 0),  # high, but not NEWS2's 220
        # acute figures: the same labels, other numbers
        ("boende på säbo, blodtryck 70/45, puls 120, kall och marmorerad", 1, 1),
        ("NEWS2 8 hos beboer, sat 85 uten o2, RF 30", 0, 3),
        ("bs 2,1 lige nu, han er svedig", 0, 1),
        ("mätaren visar 31 i blodsocker", 0, 1),  # the figure before its label
        ("min mor har 39,9 i feber og kender mig ikke", 0, 1),
        ("AF 28, sats 76% on 2L", 0, 2),
        ("puls er 130", 1, 0),  # NEWS2 scores 3 from 131
        # a label in its definite form, "heart rate", and "ligger på" / "is at" between label and figure
        ("pulsen ligger på 48, han får betablokker", 1, 0),
        ("heart rate 49 resting, he's on a beta blocker", 1, 0),
        ("blodtrycket ligger på 70/40 och hon är blek", 0, 1),
        ("heart rate is at 150 and she is grey", 0, 1),
        ("han ligger på 2. sal", 0, 0),  # "ligger på" without a label
        # a home device and what it shows, as relatives write it
        ("mors blodtryksmåler viser 72/40 og puls 45", 1, 1),
        ("mammas blodtrycksmätare visar 232/128 och hon mår illa", 0, 1),
        ("oximeteret står på 84 og hun er grå", 0, 1),
        ("the oximeter says 97 and she is fine", 1, 0),
        ("blodtryksmåleren er 3 år gammel", 0, 0),  # the device's age, not a reading
        ("sukkermåleren viser normale tal", 0, 0),
        # near-misses: a label's word in another sense, or a figure that is something else
        ("Hun sat 70 minutter i venteværelset", 0, 0),
        ("hun sat på 2. sal hele dagen", 0, 0),
        ("Hvad sker der hvis man tager af 40 panodiler", 0, 0),  # "af" is Danish for "of"
        ("jeg er 88 år og bor alene", 0, 0),
        ("temp 38.9 i dag", 1, 0),
        ("temp 38.9 i går, i dag 37", 0, 0),  # yesterday's figure is history; "i dag 37" has no label
        # an earlier day counts only near the figure, and "since yesterday" is still now
        ("BS 2,7 on Tuesday, gave juice", 0, 0),
        ("NEWS 8, står på blodfortynnende og slo hodet i går", 0, 1),
        ("sat 84 siden i går og blir verre", 0, 1),
        # a figure told with a time before now is history, unless "now" comes between
        ("He was admitted last week with BP 76/44 and a chest infection", 0, 0),
        ("BT 78/46 og lungebetændelse sidste uge, nu er hun hjemme og BT er 122/74", 1, 0),
        ("i fjor fik han BT 70/40, og nu er BT 75/40 igen", 0, 1),
        ("jag svimmade förra veckan och BT var 85/55. Nu är BT 80/50 och jag är yr", 0, 1),
    ],
)
def test_figures_are_read_as_usual_or_acute(text: str, usual: int, acute: int) -> None:
    assert read_vitals(text) == Vitals(usual, acute)


def test_the_urgency_features_say_only_usual_some_acute_and_how_many() -> None:
    assert Vitals(3, 0).features() == [1.0, 0.0, 0.75]
    assert Vitals(3, 1).features() == [0.0, 1.0, 1.0]
    assert Vitals(0, 0).features() == [0.0, 0.0, 0.0]


ROUTINE_AND_ACUTE = [
    (
        "Överrapport natt: rum 12 sov hela natten, BT 128/70, puls 66. Rum 14 toabesök x2. Lugnt.",
        "rum 12: BT 72/40, puls 134, kallsvettig och svarar inte ordentligt. ssk kommer inte",
    ),
    (
        "Rapport: rom 4 blodtrykk 130/80, puls 72, spiste middag, ingen smerter. God kveld.",
        "rom 4: blodtrykk 76/40, puls 138, klam og svarer ikke ordentlig. legen tar ikke telefonen",
    ),
    (
        "Day shift summary: room 2 temp 37.1, BP 140/85, walked to lunch with frame. Room 8 family visited. No issues.",
        "room 2: temp 40.2, BP 78/44, HR 140, confused and mottled. GP not answering",
    ),
]


@pytest.mark.parametrize(("routine", "acute"), ROUTINE_AND_ACUTE)
def test_a_routine_note_is_not_a_crisis_and_the_same_note_with_acute_figures_is(  # type: ignore[no-untyped-def]
    assistant, routine: str, acute: str
) -> None:
    assert assistant.analyse(routine).decision.route != "crisis"
    assert assistant.analyse(acute).decision.route == "crisis"


def test_an_edited_reading_policy_changes_its_hash_so_the_model_retrains(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import assistant.vitals as vitals

    before = vitals.reading_policy()
    edited = tmp_path / "vitals.yaml"
    edited.write_text(vitals.POLICY.read_text(encoding="utf-8").replace("acute_below: 92", "acute_below: 90"))
    monkeypatch.setattr(vitals, "POLICY", edited)
    assert vitals.reading_policy() != before
