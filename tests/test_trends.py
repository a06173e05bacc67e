"""Weekly trends for the staff console: counts, rates, quiet weeks, CSV."""

from __future__ import annotations

import csv
import io

from assistant.trends import trends_csv, weekly_trends


def _answers() -> list[dict[str, str]]:
    return [
        {"created_at": "2025-03-03T08:00:00+00:00", "status": "answered"},  # Monday, week 10
        {"created_at": "2025-03-09T23:59:00+00:00", "status": "not_found"},  # Sunday, still week 10
        {"created_at": "2025-03-05T10:00:00+00:00", "status": "referred"},
        {"created_at": "2025-03-05T10:00:00+00:00", "status": "not_found"},
        {"created_at": "2025-03-06T10:00:00+00:00", "status": "about"},  # a question about the assistant
        {"created_at": "2025-03-24T10:00:00+00:00", "status": "answered"},  # week 13; weeks 11-12 are quiet
    ]


def _feedback() -> list[dict[str, object]]:
    return [
        {"created_at": "2025-03-04T09:00:00+00:00", "helpful": True},
        {"created_at": "2025-03-06T09:00:00+00:00", "helpful": False},
        {"created_at": "2025-03-10T00:30:00+01:00", "helpful": True},  # 23:30 UTC on Sunday: week 10
    ]


def test_weekly_counts_rates_and_quiet_weeks() -> None:
    trends = weekly_trends(_answers(), _feedback())
    assert [t.week for t in trends] == ["2025-W10", "2025-W11", "2025-W12", "2025-W13"]
    first = trends[0]
    assert (first.questions, first.answered, first.referred, first.not_found, first.about) == (5, 1, 1, 2, 1)
    assert first.not_found_rate == 0.4
    assert (first.feedback, first.helpful, first.satisfaction) == (3, 2, 0.667)
    quiet = trends[1]
    assert quiet.questions == 0 and quiet.not_found_rate is None and quiet.satisfaction is None
    assert trends[-1].questions == 1 and trends[-1].not_found_rate == 0.0
    assert [t.week for t in weekly_trends(_answers(), _feedback(), weeks=2)] == ["2025-W12", "2025-W13"]
    assert weekly_trends([], []) == []


def test_trends_as_csv() -> None:
    text = trends_csv(weekly_trends(_answers(), _feedback()))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["week"] == "2025-W10" and rows[0]["week_start"] == "2025-03-03"
    assert (
        rows[0]["questions"] == "5"
        and rows[0]["about"] == "1"
        and rows[0]["not_found_rate"] == "0.4"
        and rows[0]["satisfaction"] == "0.667"
    )
    assert rows[1]["not_found_rate"] == "" and rows[1]["satisfaction"] == ""
    assert text.splitlines()[0].split(",")[:3] == ["week", "week_start", "questions"]
