"""The citizens' page in a real (Debian) Chromium against the real app on loopback.

Never downloads a browser: Playwright drives /usr/bin/chromium. Every feature is
exercised in at least two languages, axe (WCAG 2.1 A and AA rules) must find no
violation in any state, and the screenshots the README shows are written to
docs/screenshots/ by these tests.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.answer import Assistant
from assistant.config import REPO_ROOT, Settings
from assistant.contract import Answer, Citation
from assistant.feedback import FeedbackStore
from assistant.serve import create_app
from tests.conftest_web import LiveServer, serve_in_thread

pytest_plugins = ["tests.conftest_web"]

sync_api = pytest.importorskip("playwright.sync_api")
from axe_playwright_python.sync_playwright import Axe  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO_ROOT / "test-output" / "screenshots"
DOC_SHOTS = REPO_ROOT / "docs" / "screenshots"  # the README shows these
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
QUESTION = "Hvilken støtte kan pårørende få?"
NORWEGIAN_PLAN = "Hvad siger den norske plan om demens?"
FOLLOW_UP = "Hjælper kommunen med mad?"
CPR = "070761-4285"
EMAIL = "anna.svensson@example.se"
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def new_page(browser: Any, locale: str = "en-US", width: int = 1280, height: int = 900) -> Any:
    context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    watch_errors(page)
    return page


def watch_errors(page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.js_errors = errors


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    p = new_page(browser)
    yield p
    errors = list(p.js_errors)
    p.context.close()
    assert not errors, errors


def open_app(page: Any, url: str) -> None:
    page.goto(url + "/")
    # the municipality list has loaded
    page.wait_for_function("() => document.querySelectorAll('#municipality option').length > 1")


def reference_answer(
    server: Any,
    message: str = QUESTION,
    municipality: str | None = None,
    language: str | None = "en",
    history: list[dict[str, str]] | None = None,
) -> Answer:
    body = {"message": message, "municipality": municipality, "language": language, "history": history}
    return Answer.model_validate(httpx.post(f"{server.url}/api/chat", json=body, timeout=60).json())


def ask(page: Any, question: str = QUESTION) -> Any:
    """Type a question, press Enter, wait for the streamed answer to finish; return its article."""
    before = page.locator("article.turn-assistant.complete").count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    page.wait_for_function(f"() => document.querySelectorAll('article.turn-assistant.complete').length > {before}")
    return page.locator("article.turn-assistant.complete").nth(before)


def visible_text(locator: Any) -> str:
    return squash(locator.inner_text())


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def first_line(text: str) -> str:
    line = next(line for line in text.splitlines() if line.strip())
    return re.sub(r"^\s*-\s+", "", line).strip()


def assert_no_axe_violations(page: Any, label: str) -> None:
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]})
    violations = results.response["violations"]
    summary = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5], v["nodes"][0].get("failureSummary", ""))
        for v in violations
    ]
    assert not violations, f"axe violations ({label}): {json.dumps(summary, indent=1, ensure_ascii=False)}"


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def doc_shot(page: Any, name: str, full_page: bool = True) -> Path:
    DOC_SHOTS.mkdir(parents=True, exist_ok=True)
    path = DOC_SHOTS / name
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000
    return path


def close(page: Any) -> None:
    errors = list(page.js_errors)
    page.context.close()
    assert not errors, errors


# --------------------------------------------------------------------------- asking


def test_ask_stream_citations_and_feedback(page: Any, live_server: Any, web_settings: Any) -> None:
    reference = reference_answer(live_server)
    open_app(page, live_server.url)
    assert page.locator("html").get_attribute("lang") == "en"
    assert "not a caseworker" in visible_text(page.locator("#scope-note"))

    with page.expect_request("**/api/chat/stream") as request_info:
        article = ask(page)
    sent = json.loads(request_info.value.post_data)
    assert sent["message"] == QUESTION and sent["language"] == "en"
    assert article.get_attribute("data-status") == reference.status
    assert article.get_attribute("aria-busy") == "false"
    bubble = article.locator(".bubble-assistant")
    assert bubble.get_attribute("lang") == reference.language
    assert first_line(reference.answer) in visible_text(bubble)
    assert page.locator(".turn-user .bubble-user").last.inner_text() == QUESTION
    assert page.locator("#log").get_attribute("aria-live") == "polite"
    # the answer text carries no source list: the page shows source cards
    assert "Sources:" not in bubble.inner_text() and "Kilder:" not in bubble.inner_text()

    # one numbered source card per citation; opening one shows the passage and its metadata
    cards = article.locator("details.source-card")
    assert cards.count() == len(reference.citations)
    if reference.status == "answered":
        assert reference.citations
    if reference.citations:
        citation: Citation = reference.citations[0]
        card = cards.first
        body = card.locator(".source-body")
        assert not body.is_visible()
        card.locator("summary").first.click()
        assert card.get_attribute("open") is not None
        assert body.is_visible()
        shown = visible_text(card)
        assert citation.title in shown and citation.section in shown
        shown_passage = citation.translation.text if citation.translation else citation.text
        assert squash(shown_passage)[:80] in shown
        assert (citation.municipality or "Not stated in the document") in shown
        if citation.period:
            assert citation.period in shown
            assert ("ended" in shown) == citation.period_ended

    # feedback: thumbs up, a comment, confirmation, stored
    feedback = article.locator(".feedback")
    feedback.get_by_role("button", name="Yes, helpful").click()
    assert feedback.get_by_role("button", name="Yes, helpful").get_attribute("aria-pressed") == "true"
    assert not feedback.locator("fieldset.reasons").is_visible(), "reasons are asked only when it did not help"
    feedback.get_by_label(re.compile("Comment")).fill("Very clear, thank you")
    with page.expect_response("**/api/feedback") as response_info:
        feedback.get_by_role("button", name="Send feedback").click()
    assert response_info.value.status == 201
    assert feedback.get_by_role("status").inner_text() == "Thank you for your feedback."
    answer_id = article.get_attribute("data-answer-id")
    rows = [r for r in FeedbackStore(web_settings.database_path).feedback() if r["answer_id"] == answer_id]
    assert len(rows) == 1 and rows[0]["helpful"] is True and rows[0]["comment"] == "Very clear, thank you"
    assert rows[0]["reason"] is None

    # the answer was streamed: the page read text/event-stream, not /api/chat
    assert "/api/chat/stream" in request_info.value.url


def test_citation_marker_opens_its_card(page: Any, live_server: Any) -> None:
    reference = reference_answer(live_server)
    markers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", reference.answer)} & {c.n for c in reference.citations})
    assert markers, f"the reference question must be answered with citation markers: {reference.answer!r}"
    open_app(page, live_server.url)
    article = ask(page)
    n = markers[0]
    marker = article.get_by_role("button", name=f"Show source {n}").first
    marker.click()
    card = article.locator(f"details.source-card[data-n='{n}']")
    assert card.get_attribute("open") is not None
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    assert page.evaluate("document.activeElement.parentElement.dataset.n") == str(n)


def test_municipality_chooser(page: Any, live_server: Any) -> None:
    api = httpx.get(f"{live_server.url}/api/municipalities", timeout=10).json()
    open_app(page, live_server.url)
    chooser = page.get_by_label("Municipality", exact=True)
    options = chooser.locator("option")
    assert options.first.inner_text() == "All municipalities"
    assert options.first.get_attribute("value") == ""
    assert sorted(options.all_inner_texts()[1:]) == sorted(m["name"] for m in api)

    chooser.select_option("Slagelse Kommune")
    page.wait_for_function("() => document.getElementById('announcer').textContent.includes('Slagelse')")
    with page.expect_request("**/api/chat/stream") as request_info:
        ask(page)
    assert json.loads(request_info.value.post_data)["municipality"] == "Slagelse Kommune"

    chooser.select_option("")
    with page.expect_request("**/api/chat/stream") as request_info:
        ask(page, "Hvad er hjemmehjælp?")
    body = json.loads(request_info.value.post_data)
    assert body["municipality"] is None
    assert [turn["role"] for turn in body["history"]] == ["user", "assistant"]  # the conversation so far


# --------------------------------------------------------------------------- issue 9: a Danish reader, a Norwegian plan


def test_danish_reader_reads_the_norwegian_plan_in_danish_and_a_follow_up_on_its_own_topic(
    browser: Any, live_server: Any
) -> None:
    reference = reference_answer(live_server, NORWEGIAN_PLAN, language="da")
    assert reference.status == "answered" and reference.language == "da"
    norwegian = [c for c in reference.citations if c.language == "nb"]
    assert norwegian and norwegian[0].translation is not None and norwegian[0].translation.language == "da"
    page = new_page(browser, locale="da-DK")
    try:
        open_app(page, live_server.url)
        assert page.locator("html").get_attribute("lang") == "da"
        with page.expect_request("**/api/chat/stream") as request_info:
            article = ask(page, NORWEGIAN_PLAN)
        assert json.loads(request_info.value.post_data)["language"] == "da"
        bubble = article.locator(".bubble-assistant")
        assert bubble.get_attribute("lang") == "da"
        assert first_line(reference.answer) in visible_text(bubble)
        assert "oversat fra norsk" in visible_text(bubble)

        citation = norwegian[0]
        assert citation.translation is not None
        card = article.locator(f"details.source-card[data-n='{citation.n}']")
        assert "Oversat fra norsk" in visible_text(card.locator("summary").first)
        card.locator("summary").first.click()
        # the Danish translation, marked as one, with its status said plainly
        translated = card.locator("blockquote.translated")
        assert translated.get_attribute("lang") == "da"
        assert squash(translated.inner_text()) == squash(citation.translation.text)
        note = visible_text(card.locator(".translation-note"))
        assert note.startswith("Oversat fra norsk")
        expected_status = "gennemgået af en medarbejder" if citation.translation.status == "reviewed" else "udkast"
        assert expected_status in note
        meta = visible_text(card.locator(".source-meta"))
        assert "Ikke angivet i dokumentet" in meta  # the Norwegian plan does not name its municipality
        assert citation.section in meta and (citation.period or "") in meta

        # the Norwegian original, verbatim, one click away
        original = card.locator("details.original")
        original_text = original.locator("blockquote")
        assert not original_text.is_visible()
        summary = original.locator("summary")
        assert summary.inner_text() == "Vis den oprindelige tekst på norsk"
        summary.click()
        assert original_text.is_visible()
        assert original_text.get_attribute("lang") == "nb"
        assert squash(original_text.inner_text()) == squash(citation.text)
        assert_no_axe_violations(page, "Danish reader, Norwegian plan, original open")
        doc_shot(page, "citizen-translation-da.png")

        # a new question after it is answered on its own topic, not the previous one's
        alone = reference_answer(live_server, FOLLOW_UP, language="da")
        with page.expect_request("**/api/chat/stream") as request_info:
            second = ask(page, FOLLOW_UP)
        history = json.loads(request_info.value.post_data)["history"]
        assert history[0] == {"role": "user", "content": NORWEGIAN_PLAN}
        assert second.get_attribute("data-status") == alone.status
        assert first_line(alone.answer) in visible_text(second.locator(".bubble-assistant"))
        titles = second.locator("details.source-card .source-title").all_inner_texts()
        assert titles == [c.title for c in alone.citations]
        dementia = {c.text for c in reference.citations}
        assert not any(c.text in dementia for c in alone.citations), "the follow-up does not repeat the first answer"
        assert second.locator(".bubble-assistant").get_attribute("lang") == "da"
    finally:
        close(page)


# --------------------------------------------------------------------------- keyboard


def focused(page: Any) -> dict[str, str]:
    return page.evaluate(
        "(() => { const a = document.activeElement;"
        " return {tag: a.tagName, id: a.id, cls: a.className || '', type: a.type || '',"
        " text: (a.textContent || '').trim().slice(0, 80),"
        " outline: getComputedStyle(a).outlineStyle, visible: a.matches(':focus-visible')}; })()"
    )


def tab_until(page: Any, predicate: Any, key: str = "Tab", limit: int = 80) -> dict[str, str]:
    for _ in range(limit):
        page.keyboard.press(key)
        info = focused(page)
        if predicate(info):
            return info
    raise AssertionError(f"never reached the element with {key}")


def test_keyboard_only(page: Any, live_server: Any) -> None:
    reference = reference_answer(live_server)
    open_app(page, live_server.url)

    # logical order on the empty page, each with a visible focus indicator
    order = []
    for _ in range(12):
        page.keyboard.press("Tab")
        info = focused(page)
        assert info["visible"] and info["outline"] != "none", info
        order.append(info["id"] or info["cls"])
    assert order == [
        "skip-link", "language", "municipality", "text-size", "theme", "starter", "starter", "starter",
        "question", "send", "privacy-link", "accessibility-link",
    ], order  # fmt: skip

    # the skip link leads to the question field; Enter sends
    open_app(page, live_server.url)
    page.keyboard.press("Tab")
    assert "skip-link" in focused(page)["cls"]
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "question"
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    page.wait_for_selector("article.turn-assistant.complete")
    assert focused(page)["id"] == "question", "focus stays in the question field"

    assert reference.citations, "the reference question must be answered with sources to open"
    # back through the page with Shift+Tab to the first source card, open it with Enter
    info = tab_until(
        page, lambda f: f["tag"] == "SUMMARY" and not f["text"].startswith("Show the original"), "Shift+Tab"
    )
    assert info["visible"] and info["outline"] != "none"
    page.keyboard.press("Enter")
    opened = page.evaluate("document.activeElement.parentElement.open")
    assert opened is True
    n = page.evaluate("document.activeElement.parentElement.dataset.n")
    citation = next(c for c in reference.citations if str(c.n) == n)
    card = page.locator(f"article.turn-assistant details.source-card[data-n='{n}']")
    shown = citation.translation.text if citation.translation else citation.text
    assert squash(shown)[:60] in visible_text(card)

    # thumbs down, a reason with the arrow keys, a comment, by keyboard alone
    tab_until(page, lambda f: "thumb" in f["cls"] and "not helpful" in f["text"])
    page.keyboard.press("Enter")
    assert focused(page)["type"] == "radio", "the reasons come first after thumbs down"
    page.keyboard.press("ArrowDown")  # the second reason: wrong municipality
    assert page.evaluate("document.activeElement.value") == "wrong_municipality"
    page.keyboard.press("Tab")
    assert focused(page)["tag"] == "TEXTAREA"
    page.keyboard.type("Fine")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Send feedback"
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('article.turn-assistant .feedback-status').textContent.length > 0"
    )
    assert page.locator("article.turn-assistant .feedback-status").inner_text() == "Thank you for your feedback."

    # copy, print and start over are buttons in the tab order too
    tab_until(page, lambda f: f["id"] == "start-over", "Shift+Tab")
    page.keyboard.press("Enter")
    assert page.locator("article.turn-assistant").count() == 0
    assert focused(page)["id"] == "question"


def test_keyboard_only_in_danish_with_a_starter_question(browser: Any, live_server: Any) -> None:
    page = new_page(browser, locale="da-DK")
    try:
        open_app(page, live_server.url)
        info = tab_until(page, lambda f: "starter" in f["cls"])
        assert info["text"] == "Hvilken støtte kan pårørende få?" and info["visible"]
        with page.expect_request("**/api/chat/stream") as request_info:
            page.keyboard.press("Enter")
        page.wait_for_selector("article.turn-assistant.complete")
        assert json.loads(request_info.value.post_data)["message"] == "Hvilken støtte kan pårørende få?"
        assert focused(page)["id"] == "question"
        tab_until(page, lambda f: "thumb" in f["cls"] and f["text"] == "Ja, nyttigt", "Shift+Tab")
        page.keyboard.press("Enter")
        assert focused(page)["tag"] == "TEXTAREA"
    finally:
        close(page)


# --------------------------------------------------------------------------- languages


@pytest.mark.parametrize(
    ("locale", "lang", "heading"),
    [
        ("da-DK", "da", "Spørg om kommunens omsorg og pleje"),
        ("sv-SE", "sv", "Fråga om kommunens vård och omsorg"),
        ("nb-NO", "nb", "Spør om kommunens helse- og omsorgstjenester"),
        ("de-DE", "en", "Ask about municipal care services"),
    ],
)
def test_language_follows_browser(browser: Any, live_server: Any, locale: str, lang: str, heading: str) -> None:
    page = new_page(browser, locale=locale)
    try:
        open_app(page, live_server.url)
        assert page.locator("html").get_attribute("lang") == lang
        assert page.locator("h1").inner_text() == heading
        assert page.locator("#language").input_value() == lang
    finally:
        page.context.close()


def test_language_switch(page: Any, live_server: Any) -> None:
    reference = reference_answer(live_server)
    open_app(page, live_server.url)
    assert page.locator(".starter").first.inner_text() == "What support is there for relatives?"
    article = ask(page)
    page.get_by_label("Language", exact=True).select_option("sv")
    assert page.locator("html").get_attribute("lang") == "sv"
    assert page.locator("h1").inner_text() == "Fråga om kommunens vård och omsorg"
    assert page.get_by_label("Din fråga").count() == 1
    assert page.locator("#municipality option").first.inner_text() == "Alla kommuner"
    assert page.title() == "Fråga om kommunens vård och omsorg"
    assert page.locator(".starter").first.inner_text() == "Vilket stöd finns för anhöriga?"
    # page texts inside the answer follow; the answer keeps its own language
    assert article.locator(".feedback-question").inner_text() == "Var svaret till hjälp?"
    assert article.locator(".feedback-question").get_attribute("lang") == "sv"
    assert article.locator(".copy-answer").inner_text() == "Kopiera svaret"
    assert article.locator(".bubble-assistant").get_attribute("lang") == reference.language
    if reference.citations:
        assert article.locator(".sources-heading").inner_text() == "Källor"

    page.get_by_label("Språk", exact=True).select_option("nb")
    assert page.locator("html").get_attribute("lang") == "nb"
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#municipality option').length > 1")
    assert page.locator("html").get_attribute("lang") == "nb", "the choice is remembered"
    assert page.get_by_label("Ditt spørsmål").count() == 1


# --------------------------------------------------------------------------- starter questions


@pytest.mark.parametrize(("locale", "lang"), [("sv-SE", "sv"), ("nb-NO", "nb")])
def test_starter_questions_are_asked_with_one_click(browser: Any, live_server: Any, locale: str, lang: str) -> None:
    page = new_page(browser, locale=locale)
    try:
        open_app(page, live_server.url)
        starters = page.locator(".starter")
        assert starters.count() == 3
        assert all(starters.nth(i).get_attribute("lang") == lang for i in range(3))
        assert_no_axe_violations(page, f"starters ({lang})")
        text = starters.nth(1).inner_text()
        with page.expect_request("**/api/chat/stream") as request_info:
            starters.nth(1).click()
        page.wait_for_selector("article.turn-assistant.complete")
        sent = json.loads(request_info.value.post_data)
        assert sent["message"] == text and sent["language"] == lang
        assert page.locator(".bubble-user").last.inner_text() == text
        assert not page.locator("#empty").is_visible(), "the suggestions give way to the conversation"
        reference = reference_answer(live_server, text, language=lang)
        article = page.locator("article.turn-assistant.complete").first
        assert article.get_attribute("data-status") == reference.status
        assert article.locator(".bubble-assistant").get_attribute("lang") == reference.language == lang
    finally:
        close(page)


# --------------------------------------------------------------------------- the conversation: kept for the tab, start over


@pytest.mark.parametrize(
    ("locale", "question", "secret", "cleared"),
    [
        ("sv-SE", f"Min mamma har e-post {EMAIL}. Vilket stöd finns för anhöriga?", EMAIL, "Samtalet är raderat"),
        ("da-DK", f"Mit CPR er {CPR}. Hvilken støtte kan pårørende få?", CPR, "Samtalen er slettet"),
    ],
)
def test_conversation_is_kept_for_the_tab_only_and_start_over_clears_it(
    browser: Any, live_server: Any, locale: str, question: str, secret: str, cleared: str
) -> None:
    page = new_page(browser, locale=locale)
    try:
        open_app(page, live_server.url)
        first = ask(page, question)
        redacted = page.locator(".bubble-user").first.inner_text()
        assert secret not in redacted and redacted, "the page shows (and keeps) the server's redacted question"
        assert first.locator(".pii-note").count() == 1
        first.locator(".thumb").first.click()
        with page.expect_response("**/api/feedback"):
            first.locator(".feedback-form button[type=submit]").click()
        stored = page.evaluate("window.sessionStorage.getItem('care.conversation.v1')")
        assert stored and secret not in stored
        assert page.evaluate("Object.keys(window.localStorage).every(k => !localStorage.getItem(k).includes('@'))")

        # a reload keeps the conversation (answer, sources, feedback given)
        page.reload()
        page.wait_for_function("() => document.querySelectorAll('#municipality option').length > 1")
        restored = page.locator("article.turn-assistant")
        assert restored.count() == 1
        assert page.locator(".bubble-user").first.inner_text() == redacted
        assert restored.first.locator("details.source-card").count() == first.locator("details.source-card").count()
        assert restored.first.locator(".feedback-status").inner_text() != ""
        assert restored.first.locator(".thumb").first.is_disabled()
        assert secret not in page.content()
        assert_no_axe_violations(page, f"restored conversation ({locale})")
        # ...and the next question still sends it as history
        with page.expect_request("**/api/chat/stream") as request_info:
            ask(page, "Hvad med demens?" if locale.startswith("da") else "Och demens?")
        history = json.loads(request_info.value.post_data)["history"]
        assert history[0] == {"role": "user", "content": redacted}

        # another tab does not see it
        other = page.context.new_page()
        watch_errors(other)
        open_app(other, live_server.url)
        assert other.locator("article.turn-assistant").count() == 0
        assert other.locator("#empty").is_visible()
        other.close()

        # start over: the conversation is gone, here and after a reload
        page.locator("#start-over").click()
        assert page.locator("#log > *").count() == 0
        assert page.evaluate("window.sessionStorage.getItem('care.conversation.v1')") is None
        assert page.locator("#empty").is_visible() and not page.locator("#start-over").is_visible()
        assert focused(page)["id"] == "question"
        page.wait_for_function(f"() => document.getElementById('announcer').textContent.includes('{cleared}')")
        assert_no_axe_violations(page, f"after start over ({locale})")
        page.reload()
        page.wait_for_function("() => document.querySelectorAll('#municipality option').length > 1")
        assert page.locator("article.turn-assistant").count() == 0
    finally:
        close(page)


# --------------------------------------------------------------------------- feedback with reasons


@pytest.mark.parametrize(
    ("locale", "reason_label", "reason", "thanks"),
    [
        ("da-DK", "Forkert kommune", "wrong_municipality", "Tak for din feedback."),
        ("sv-SE", "Svårt att förstå", "hard_to_understand", "Tack för ditt omdöme."),
    ],
)
def test_feedback_with_a_reason_and_a_comment(
    browser: Any, live_server: Any, web_settings: Any, locale: str, reason_label: str, reason: str, thanks: str
) -> None:
    page = new_page(browser, locale=locale)
    try:
        open_app(page, live_server.url)
        article = ask(page)
        feedback = article.locator(".feedback")
        feedback.locator(".thumb[data-helpful='no']").click()
        reasons = feedback.locator("fieldset.reasons")
        assert reasons.is_visible()
        assert reasons.locator("input[type=radio]").count() == 4
        assert_no_axe_violations(page, f"feedback reasons ({locale})")
        feedback.get_by_label(reason_label).check()
        feedback.locator("textarea").fill(f"Ring mig på {CPR}")
        with page.expect_request("**/api/feedback") as request_info:
            feedback.locator("button[type=submit]").click()
        payload = json.loads(request_info.value.post_data)
        assert payload["helpful"] is False and payload["reason"] == reason
        page.wait_for_function(
            "() => document.querySelector('article.turn-assistant .feedback-status').textContent.length > 0"
        )
        assert feedback.get_by_role("status").inner_text() == thanks
        answer_id = article.get_attribute("data-answer-id")
        rows = [r for r in FeedbackStore(web_settings.database_path).feedback() if r["answer_id"] == answer_id]
        assert len(rows) == 1 and rows[0]["reason"] == reason
        assert rows[0]["comment"] and CPR not in rows[0]["comment"]
        assert rows[0]["answer"] and first_line(rows[0]["answer"]) in visible_text(article.locator(".bubble-assistant"))
        assert_no_axe_violations(page, f"feedback sent ({locale})")
    finally:
        close(page)


# --------------------------------------------------------------------------- talk to a person


@pytest.mark.parametrize(
    ("locale", "question", "status", "office", "contact"),
    [
        (
            "da-DK",
            "Kan min mor få plads på plejehjem i Slagelse?",
            "referred",
            "kommunens visitation",
            "Kontakt Slagelse Kommune",
        ),
        (
            "sv-SE",
            "Kan min pappa få plats på äldreboende i Östersund?",
            "referred",
            "biståndshandläggare",
            "Kontakta Östersunds kommun",
        ),
        (
            "en-US",
            "What do the plans say about parking fines?",
            "not_found",
            "in Denmark the visitation",
            "Contact your municipality",
        ),
    ],
)
def test_a_person_to_talk_to_when_the_answer_routes_to_the_municipality(
    browser: Any, live_server: Any, locale: str, question: str, status: str, office: str, contact: str
) -> None:
    lang = locale.split("-")[0]
    reference = reference_answer(live_server, question, language=lang)
    assert reference.status == status
    page = new_page(browser, locale=locale)
    try:
        open_app(page, live_server.url)
        article = ask(page, question)
        assert article.get_attribute("data-status") == status
        card = article.locator(".person-card")
        assert card.count() == 1
        text = visible_text(card)
        assert office in text and contact in text
        links = card.locator("a")
        expected_sites = {"DK": ["borger.dk"], "SE": ["1177.se"], "NO": ["helsenorge.no"]}.get(
            reference.office_country or "", ["borger.dk", "1177.se", "helsenorge.no"]
        )
        assert [a.split()[-1] for a in links.all_inner_texts()] == expected_sites
        assert card.get_attribute("aria-labelledby")
        assert_no_axe_violations(page, f"talk to a person ({locale})")
        if lang == "en":
            doc_shot(page, "citizen-not-found-en.png")
        if lang == "da":
            doc_shot(page, "citizen-referral-da.png")
    finally:
        close(page)


def test_no_person_card_for_an_answer_from_the_plans(page: Any, live_server: Any) -> None:
    open_app(page, live_server.url)
    article = ask(page)
    assert article.get_attribute("data-status") == "answered"
    assert article.locator(".person-card").count() == 0


def test_a_question_about_the_assistant_is_answered_about_it_on_the_page(browser: Any, live_server: Any) -> None:
    page = new_page(browser, locale="da-DK")
    try:
        open_app(page, live_server.url)
        article = ask(page, "Gemmer I det, jeg skriver her?")
        assert article.get_attribute("data-status") == "about"
        assert visible_text(article.locator(".badge")) == "Om assistenten"
        assert "gemmes i 30 dage" in visible_text(article)
        assert article.locator(".person-card").count() == 0
        assert_no_axe_violations(page, "about the assistant (da-DK)")
    finally:
        close(page)


# --------------------------------------------------------------------------- copy and print


@pytest.mark.parametrize(
    ("locale", "sources_word", "copied"),
    [("da-DK", "Kilder", "Svaret er kopieret."), ("en-US", "Sources", "The answer has been copied.")],
)
def test_copy_an_answer_with_its_sources(
    browser: Any, live_server: Any, locale: str, sources_word: str, copied: str
) -> None:
    page = new_page(browser, locale=locale)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    try:
        open_app(page, live_server.url)
        reference = reference_answer(live_server, NORWEGIAN_PLAN, language=locale.split("-")[0])
        article = ask(page, NORWEGIAN_PLAN)
        article.locator(".copy-answer").click()
        page.wait_for_function(
            "() => document.querySelector('article.turn-assistant .action-status').textContent.length > 0"
        )
        assert article.locator(".action-status").inner_text() == copied
        clipboard = page.evaluate("navigator.clipboard.readText()")
        assert clipboard.startswith(reference.answer.strip().splitlines()[0])
        assert f"\n{sources_word}:\n" in clipboard
        for c in reference.citations:
            assert f"[{c.n}] {c.title} – " in clipboard and c.section in clipboard
    finally:
        close(page)


@pytest.mark.parametrize("locale", ["da-DK", "nb-NO"])
def test_print_one_answer_with_its_sources(browser: Any, live_server: Any, locale: str) -> None:
    page = new_page(browser, locale=locale)
    try:
        open_app(page, live_server.url)
        first = ask(page)
        # a plan in another language than the page's, so the translation and the original both print
        second = ask(page, NORWEGIAN_PLAN if locale == "da-DK" else "Hva sier den danske planen om demens?")
        page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
        second.locator(".print-answer").click()
        assert page.evaluate("window.__printed") == 1
        assert "print-target" in (second.get_attribute("class") or "")
        cards = second.locator("details.source-card")
        assert cards.count() >= 1
        assert all(cards.nth(i).get_attribute("open") is not None for i in range(cards.count()))

        page.emulate_media(media="print")
        assert second.is_visible() and second.locator(".source-body").first.is_visible()
        assert second.locator("details.original blockquote").first.is_visible(), "the original prints too"
        assert not first.is_visible(), "only the chosen answer is printed"
        for hidden in (".ask", ".display-bar", ".site-footer", "#start-over"):
            assert not page.locator(hidden).is_visible(), hidden
        assert not second.locator(".feedback").is_visible() and not second.locator(".answer-actions").is_visible()
        if locale == "da-DK":
            doc_shot(page, "citizen-print-da.png")

        page.evaluate("window.dispatchEvent(new Event('afterprint'))")
        page.emulate_media(media="screen")
        assert first.is_visible()
        assert "print-target" not in (second.get_attribute("class") or "")
        assert cards.first.get_attribute("open") is None, "the cards close again as they were"
    finally:
        close(page)


# --------------------------------------------------------------------------- text size, themes, zoom, small screens


@pytest.mark.parametrize(
    ("locale", "label_text"), [("da-DK", "Tekststørrelse"), ("nb-NO", "Tekststørrelse"), ("en-US", "Text size")]
)
def test_text_size_is_remembered_and_the_page_reflows(
    browser: Any, live_server: Any, locale: str, label_text: str
) -> None:
    page = new_page(browser, locale=locale)
    try:
        open_app(page, live_server.url)
        body_px = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert body_px >= 18, "body text is at least 18 px by default"
        hint_px = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.hint')).fontSize)")
        assert hint_px >= 16, "secondary text is at least 16 px"
        page.get_by_label(label_text).select_option("200")
        assert page.locator("html").get_attribute("data-text-size") == "200"
        assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") == pytest.approx(body_px * 2)
        page.reload()
        page.wait_for_function("() => document.querySelectorAll('#municipality option').length > 1")
        assert page.locator("#text-size").input_value() == "200", "the choice is remembered"
        assert page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") == pytest.approx(body_px * 2)
        article = ask(page)
        article.locator("details.source-card summary").first.click()
        assert no_horizontal_scroll(page)
        assert_no_axe_violations(page, f"text size 200 % ({locale})")
        if locale == "nb-NO":
            doc_shot(page, "citizen-large-text-nb.png", full_page=False)
    finally:
        close(page)


def background(page: Any) -> str:
    return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))


@pytest.mark.parametrize(("locale", "theme_label"), [("da-DK", "Farver"), ("sv-SE", "Färger")])
def test_themes_follow_the_device_and_the_switch(browser: Any, live_server: Any, locale: str, theme_label: str) -> None:
    page = new_page(browser, locale=locale)
    try:
        page.emulate_media(color_scheme="dark")
        open_app(page, live_server.url)
        assert page.locator("#theme").input_value() == "auto"
        assert background(page) == "rgb(16, 20, 24)", "dark, as the device asks"
        article = ask(page)
        article.locator("details.source-card summary").first.click()
        article.locator(".thumb[data-helpful='no']").click()
        assert_no_axe_violations(page, f"dark theme from the device ({locale})")

        page.emulate_media(color_scheme="light", contrast="more")
        assert background(page) == "rgb(0, 0, 0)", "high contrast, as the device asks"
        assert_no_axe_violations(page, f"high contrast from the device ({locale})")

        page.emulate_media(color_scheme="dark", contrast="no-preference")
        page.get_by_label(theme_label).select_option("light")
        assert background(page) == "rgb(244, 246, 248)", "the switch wins over the device"
        assert_no_axe_violations(page, f"light theme chosen ({locale})")
        page.get_by_label(theme_label).select_option("contrast")
        assert background(page) == "rgb(0, 0, 0)"
        assert_no_axe_violations(page, f"high contrast chosen ({locale})")
        if locale == "sv-SE":
            doc_shot(page, "citizen-contrast-sv.png", full_page=False)
        page.reload()
        page.wait_for_function("() => document.querySelectorAll('#municipality option').length > 1")
        assert page.locator("#theme").input_value() == "contrast" and background(page) == "rgb(0, 0, 0)"
        page.get_by_label(theme_label).select_option("dark")
        page.emulate_media(color_scheme="light")
        assert background(page) == "rgb(16, 20, 24)"
        assert_no_axe_violations(page, f"dark theme chosen ({locale})")
    finally:
        close(page)


def test_forced_colors_keep_the_page_usable(browser: Any, live_server: Any) -> None:
    page = new_page(browser, locale="nb-NO")
    try:
        page.emulate_media(forced_colors="active")
        open_app(page, live_server.url)
        article = ask(page)
        article.locator("details.source-card summary").first.click()
        assert_no_axe_violations(page, "forced colours")
    finally:
        close(page)


@pytest.mark.parametrize(("locale", "text_size"), [("da-DK", "100"), ("sv-SE", "200")])
def test_200_percent_zoom(browser: Any, live_server: Any, locale: str, text_size: str) -> None:
    """A 1280 x 900 window at 200 % browser zoom is a 640 x 450 CSS-pixel viewport."""
    page = new_page(browser, locale=locale, width=640, height=450)
    try:
        page.add_init_script(f"window.localStorage.setItem('care.textSize', '{text_size}')")
        open_app(page, live_server.url)
        assert no_horizontal_scroll(page)
        article = ask(page)
        article.locator("details.source-card summary").first.click()
        article.locator(".thumb[data-helpful='no']").click()
        assert no_horizontal_scroll(page)
        for selector in ("#question", "#send", "#language", "#municipality", "#text-size", "#theme"):
            box = page.locator(selector).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 640, selector
        assert_no_axe_violations(page, f"200 % zoom ({locale}, text {text_size} %)")
    finally:
        close(page)


@pytest.mark.parametrize(
    ("name", "width", "height", "locale"), [("desktop", 1280, 900, "en-US"), ("mobile-375", 375, 812, "sv-SE")]
)
def test_screenshots_after_answer(
    browser: Any, live_server: Any, name: str, width: int, height: int, locale: str
) -> None:
    page = new_page(browser, locale=locale, width=width, height=height)
    try:
        open_app(page, live_server.url)
        if name == "desktop":
            doc_shot(page, "citizen-start-en.png")
        article = ask(page, "Vilket stöd finns för anhöriga?" if locale == "sv-SE" else QUESTION)
        if article.locator("details.source-card").count():
            article.locator("details.source-card summary").first.click()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"answer-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        if name == "mobile-375":
            article.scroll_into_view_if_needed()
            page.evaluate("document.querySelector('article.turn-assistant').scrollIntoView()")
            doc_shot(page, "citizen-mobile-sv.png", full_page=False)
        assert no_horizontal_scroll(page), "no horizontal scrolling"
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


@pytest.mark.parametrize("locale", ["en-US", "da-DK"])
def test_usable_at_320px(browser: Any, live_server: Any, locale: str) -> None:
    page = new_page(browser, locale=locale, width=320, height=640)
    try:
        open_app(page, live_server.url)
        assert no_horizontal_scroll(page)
        article = ask(page)
        if article.locator("details.source-card").count():
            article.locator("details.source-card summary").first.click()
        assert no_horizontal_scroll(page)
        for selector in ("#question", "#send", "#language", "#municipality", "#text-size", "#theme", "#start-over"):
            box = page.locator(selector).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 320, selector
        assert_no_axe_violations(page, f"320 px ({locale})")
    finally:
        close(page)


# --------------------------------------------------------------------------- privacy notice and accessibility statement


PAGE_TITLES = {
    "privacy": {"da": "Privatlivserklæring", "sv": "Integritetsmeddelande", "nb": "Personvernerklæring",
                "en": "Privacy notice"},
    "accessibility": {"da": "Tilgængelighedserklæring", "sv": "Tillgänglighetsredogörelse",
                      "nb": "Tilgjengelighetserklæring", "en": "Accessibility statement"},
}  # fmt: skip


@pytest.mark.parametrize("lang", ["da", "sv", "nb", "en"])
def test_privacy_notice_and_accessibility_statement_in_four_languages(
    browser: Any, live_server: Any, lang: str
) -> None:
    locale = {"da": "da-DK", "sv": "sv-SE", "nb": "nb-NO", "en": "en-GB"}[lang]
    page = new_page(browser, locale=locale)
    try:
        open_app(page, live_server.url)
        page.locator("#privacy-link").click()
        page.wait_for_function("() => document.getElementById('page-content').dataset.retentionDays === '30'")
        assert page.locator("html").get_attribute("lang") == lang
        assert page.locator("h1").inner_text() == PAGE_TITLES["privacy"][lang]
        text = visible_text(page.locator("#page-content"))
        assert re.search(r"\b30\b", text), "the retention period from the configuration"
        assert_no_axe_violations(page, f"privacy notice ({lang})")
        if lang == "da":
            doc_shot(page, "citizen-privacy-da.png", full_page=False)
        page.locator("#accessibility-link").click()
        page.wait_for_selector("#page-content h2")
        assert page.locator("h1").inner_text() == PAGE_TITLES["accessibility"][lang]
        assert "WCAG 2.1" in visible_text(page.locator("#page-content"))
        assert_no_axe_violations(page, f"accessibility statement ({lang})")
        page.locator(".back-link").click()
        page.wait_for_selector("#question")
        assert page.url.rstrip("/") == live_server.url
    finally:
        close(page)


def test_privacy_notice_states_the_configured_retention(
    browser: Any, web_settings: Settings, web_assistant: Assistant
) -> None:
    settings = web_settings.model_copy(update={"retention_days": 45})
    server: LiveServer = serve_in_thread(create_app(settings, web_assistant), settings)
    page = new_page(browser, locale="sv-SE")
    try:
        page.goto(server.url + "/static/privacy.html")
        page.wait_for_function("() => document.getElementById('page-content').dataset.retentionDays === '45'")
        text = visible_text(page.locator("#page-content"))
        assert "45 dagar" in text and "30 dagar" not in text
        page.get_by_label("Språk", exact=True).select_option("nb")
        assert "45 dager" in visible_text(page.locator("#page-content"))
        assert page.locator("html").get_attribute("lang") == "nb"
    finally:
        close(page)
        server.stop()


# --------------------------------------------------------------------------- crisis, hostile text, errors


class FakeAssistant:
    """Deterministic answers to check how the page renders each case."""

    def answer(
        self,
        question: str,
        municipality: str | None = None,
        history: list[dict] | None = None,
        page_language: str | None = None,
    ) -> Answer:
        started = time.perf_counter()
        if "boom" in question:
            raise RuntimeError("broken")
        if "crisis" in question:
            return Answer(
                id=uuid.uuid4().hex,
                question=question,
                status="crisis",
                language="da",
                answer="Ring 112, hvis der er fare for liv.\nDu kan også ringe til Livslinien på 70 201 201.",
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        return Answer(
            id=uuid.uuid4().hex,
            question=question,
            status="answered",
            language="sv",
            answer='Planen säger <img src=x onerror="window.pwned=1"> följande: [1]\n- <b>punkt</b> [1]',
            citations=[
                Citation(
                    n=1,
                    document="se-soderhamn-omvardnad-2-1",
                    title="<script>window.pwned=2</script>Omvårdnad",
                    municipality="Söderhamns kommun",
                    section="Vad vi vill",
                    period="2020-2023",
                    period_ended=True,
                    url="javascript:window.pwned=3",
                    text="<i>Citat</i> ur planen.",
                )
            ],
            pii_detected=True,
            latency_ms=(time.perf_counter() - started) * 1000,
        )


@pytest.mark.parametrize(("locale", "heading"), [("en-US", "Do you need help now?"), ("da-DK", "Brug for hjælp nu?")])
def test_crisis_answer_is_prominent_alert(browser: Any, start_server: Any, locale: str, heading: str) -> None:
    server = start_server(FakeAssistant())
    page = new_page(browser, locale=locale)
    try:
        open_app(page, server.url)
        article = ask(page, "crisis now")
        bubble = article.locator(".bubble-assistant")
        assert "crisis" in (bubble.get_attribute("class") or "")
        assert bubble.get_attribute("role") == "alert"
        assert bubble.get_attribute("lang") == "da"
        assert heading in bubble.inner_text()
        assert "Ring 112" in bubble.inner_text()
        assert article.locator(".person-card").count() == 0
        border = page.evaluate("getComputedStyle(document.querySelector('.bubble-assistant.crisis')).borderLeftWidth")
        assert float(border.rstrip("px")) >= 6
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"crisis-{locale}.png"), full_page=True)
        assert_no_axe_violations(page, f"crisis answer ({locale})")
    finally:
        page.context.close()


def test_document_and_user_text_rendered_as_text(browser: Any, start_server: Any) -> None:
    server = start_server(FakeAssistant())
    page = new_page(browser)
    try:
        open_app(page, server.url)
        question = '<img src=y onerror="window.pwned=4"> hej'
        article = ask(page, question)
        assert page.locator(".bubble-user").last.inner_text() == question
        assert "<img src=x" in article.locator(".answer-text").inner_text()
        assert "<b>punkt</b>" in article.locator(".answer-text li").inner_text()
        card = article.locator("details.source-card")
        card.locator("summary").first.click()
        assert "<script>window.pwned=2</script>Omvårdnad" in card.inner_text()
        assert "<i>Citat</i> ur planen." in card.inner_text()
        assert "2020-2023, ended" in card.inner_text()
        assert card.locator("a").count() == 0, "javascript: links are dropped"
        assert page.locator("#log img, #log script, #log b, #log i").count() == 0
        assert page.evaluate("window.pwned") is None
        assert "removed personal details" in article.inner_text()
        assert article.get_by_role("button", name="Show source 1").count() == 2
        # restored from the tab's storage, it is still text
        page.reload()
        page.wait_for_function("() => document.querySelectorAll('#municipality option').length > 1")
        assert page.locator("#log img, #log script, #log b, #log i").count() == 0
        assert page.evaluate("window.pwned") is None
    finally:
        page.context.close()


def test_service_error_is_shown_and_question_kept(browser: Any, start_server: Any) -> None:
    server = start_server(FakeAssistant())
    page = new_page(browser)
    try:
        open_app(page, server.url)
        page.locator("#question").fill("boom please")
        page.locator("#question").press("Enter")
        page.wait_for_function("() => document.getElementById('form-error').textContent.length > 0")
        unavailable = "The assistant is unavailable right now. Please try again in a moment."
        assert page.locator("#form-error").inner_text() == unavailable
        assert page.locator("#form-error").get_attribute("role") == "alert"
        assert page.locator("#question").input_value() == "boom please"
        assert page.locator("#log .turn").count() == 0
        assert page.locator("#empty").is_visible()
        # an empty question is caught before sending
        page.locator("#question").fill("   ")
        page.locator("#question").press("Enter")
        page.wait_for_function("() => document.getElementById('form-error').textContent.includes('write a question')")
    finally:
        page.context.close()


# --------------------------------------------------------------------------- without JavaScript (issue 10)


def test_without_javascript_the_question_never_goes_into_a_url(browser: Any, live_server: Any) -> None:
    context = browser.new_context(java_script_enabled=False, locale="da-DK")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    requests: list[tuple[str, str]] = []
    page.on("request", lambda request: requests.append((request.method, request.url)))
    try:
        page.goto(live_server.url + "/")
        cpr = "070761-4285"
        page.locator("#question").fill(f"Min far har CPR {cpr}. {QUESTION}")
        with page.expect_navigation():
            page.locator("#send").click()
        assert page.url == live_server.url + "/"  # no ?question=...
        assert all(cpr not in url and "question" not in url for _, url in requests), requests
        assert ("POST", live_server.url + "/") in requests
        text = visible_text(page.locator("main"))
        assert cpr not in text and "[cpr]" in text
        assert page.locator("html").get_attribute("lang") == "da"
        assert page.locator("main ol li").count() >= 1  # the sources
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "no-javascript-answer.png"), full_page=True)
        assert_no_axe_violations_without_script(page)
    finally:
        context.close()


def assert_no_axe_violations_without_script(page: Any) -> None:
    """axe needs script; the answer page is checked in a context that allows it, on the same HTML."""
    html_text = page.content()
    with_script = page.context.browser.new_context()
    try:
        other = with_script.new_page()
        other.set_content(html_text)
        assert_no_axe_violations(other, "answer page without JavaScript")
    finally:
        with_script.close()
