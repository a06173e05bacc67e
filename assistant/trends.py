"""Trends for staff: questions, the not-found rate and satisfaction per ISO week.

Public entry points: :func:`weekly_trends` and :func:`trends_csv`.

Built from what :class:`~assistant.feedback.FeedbackStore` lists (answers and
feedback, already without personal data); nothing here reads a question's text.
A question counts in the week it was asked, feedback in the week it was given.
Weeks without questions between the first and the last are kept, with zeros,
so a quiet week shows as one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, get_args

from assistant.contract import Status

STATUSES: tuple[str, ...] = get_args(Status)
CSV_COLUMNS = (
    "week",
    "week_start",
    "questions",
    "answered",
    "referred",
    "not_found",
    "refused",
    "crisis",
    "about",
    "not_found_rate",
    "feedback",
    "helpful",
    "satisfaction",
)


@dataclass
class WeekTrend:
    """One ISO week. ``not_found_rate`` and ``satisfaction`` are None when there is nothing to divide."""

    week: str  # ISO week, "2025-W07"
    week_start: date  # its Monday
    questions: int = 0
    answered: int = 0
    referred: int = 0
    not_found: int = 0
    refused: int = 0
    crisis: int = 0
    about: int = 0
    feedback: int = 0
    helpful: int = 0

    @property
    def not_found_rate(self) -> float | None:
        return round(self.not_found / self.questions, 3) if self.questions else None

    @property
    def satisfaction(self) -> float | None:
        """The share of feedback that said the answer helped."""
        return round(self.helpful / self.feedback, 3) if self.feedback else None

    def as_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["week_start"] = self.week_start.isoformat()
        row["not_found_rate"] = self.not_found_rate
        row["satisfaction"] = self.satisfaction
        return {column: row[column] for column in CSV_COLUMNS}


def _monday(timestamp: str) -> date:
    moment = datetime.fromisoformat(timestamp)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    day = moment.date()
    return day - timedelta(days=day.weekday())


def _week_name(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_trends(
    answers: Iterable[dict[str, Any]],
    feedback: Iterable[dict[str, Any]],
    weeks: int | None = None,
) -> list[WeekTrend]:
    """Per ISO week, oldest first: questions by outcome, feedback and how much of it was positive.

    Args:
        answers: rows with ``created_at`` (ISO time) and ``status``.
        feedback: rows with ``created_at`` and ``helpful``.
        weeks: keep only the last this many weeks (None: all).
    """
    by_week: dict[date, WeekTrend] = {}

    def week(timestamp: str) -> WeekTrend:
        monday = _monday(timestamp)
        if monday not in by_week:
            by_week[monday] = WeekTrend(_week_name(monday), monday)
        return by_week[monday]

    for row in answers:
        entry = week(str(row["created_at"]))
        entry.questions += 1
        status = str(row.get("status") or "")
        if status in STATUSES:
            setattr(entry, status, getattr(entry, status) + 1)
    for row in feedback:
        entry = week(str(row["created_at"]))
        entry.feedback += 1
        entry.helpful += bool(row.get("helpful"))
    if not by_week:
        return []
    first, last = min(by_week), max(by_week)
    monday = first
    while monday < last:  # quiet weeks in between show as zeros
        monday += timedelta(days=7)
        by_week.setdefault(monday, WeekTrend(_week_name(monday), monday))
    ordered = [by_week[m] for m in sorted(by_week)]
    return ordered[-weeks:] if weeks else ordered


def trends_csv(trends: list[WeekTrend]) -> str:
    """The trends as CSV (comma-separated, a header row, rates as decimals), for a spreadsheet."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for trend in trends:
        writer.writerow({k: "" if v is None else v for k, v in trend.as_row().items()})
    return out.getvalue()
