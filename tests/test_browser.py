"""The chat page in a real (Debian) Chromium against the real app on loopback.

Never downloads a browser: Playwright drives /usr/bin/chromium.
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

from assistant.config import REPO_ROOT
from assistant.contract import Answer, Citation
from assistant.feedback import FeedbackStore

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
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
QUESTION = "Hvilken støtte kan pårørende få?"
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
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.js_errors = errors
    return page


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


def reference_answer(server: Any, message: str = QUESTION, municipality: str | None = None) -> Answer:
    body = {"message": message, "municipality": municipality}
    return Answer.model_validate(httpx.post(f"{server.url}/api/chat", json=body, timeout=60).json())


def ask(page: Any, question: str = QUESTION) -> Any:
    """Type a question, press Enter, wait for the streamed answer to finish; return its article."""
    before = page.locator("article.turn-assistant.complete").count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    page.wait_for_function(f"() => document.querySelectorAll('article.turn-assistant.complete').length > {before}")
    return page.locator("article.turn-assistant.complete").nth(before)


def visible_text(locator: Any) -> str:
    return re.sub(r"\s+", " ", locator.inner_text()).strip()


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


# --------------------------------------------------------------------------- asking


def test_ask_stream_citations_and_feedback(page: Any, live_server: Any, web_settings: Any) -> None:
    reference = reference_answer(live_server)
    open_app(page, live_server.url)
    assert page.locator("html").get_attribute("lang") == "en"
    assert "not a caseworker" in visible_text(page.locator("#scope-note"))

    with page.expect_request("**/api/chat/stream") as request_info:
        article = ask(page)
    assert json.loads(request_info.value.post_data)["message"] == QUESTION
    assert article.get_attribute("data-status") == reference.status
    assert article.get_attribute("aria-busy") == "false"
    bubble = article.locator(".bubble-assistant")
    assert bubble.get_attribute("lang") == reference.language
    assert first_line(reference.answer) in visible_text(bubble)
    assert page.locator(".turn-user .bubble-user").last.inner_text() == QUESTION
    assert page.locator("#log").get_attribute("aria-live") == "polite"

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
        card.locator("summary").click()
        assert card.get_attribute("open") is not None
        assert body.is_visible()
        shown = visible_text(card)
        assert re.sub(r"\s+", " ", citation.text).strip()[:80] in shown
        assert citation.title in shown and citation.section in shown
        if citation.municipality:
            assert citation.municipality in shown
        if citation.period:
            assert citation.period in shown

    # feedback: thumbs up, a comment, confirmation, stored
    feedback = article.locator(".feedback")
    feedback.get_by_role("button", name="Yes, helpful").click()
    assert feedback.get_by_role("button", name="Yes, helpful").get_attribute("aria-pressed") == "true"
    feedback.get_by_label(re.compile("Comment")).fill("Very clear, thank you")
    with page.expect_response("**/api/feedback") as response_info:
        feedback.get_by_role("button", name="Send feedback").click()
    assert response_info.value.status == 201
    assert feedback.get_by_role("status").inner_text() == "Thank you for your feedback."
    answer_id = article.get_attribute("data-answer-id")
    rows = [r for r in FeedbackStore(web_settings.database_path).feedback() if r["answer_id"] == answer_id]
    assert len(rows) == 1 and rows[0]["helpful"] is True and rows[0]["comment"] == "Very clear, thank you"

    # the answer was streamed: the page read text/event-stream, not /api/chat
    assert "/api/chat/stream" in request_info.value.url


def test_citation_marker_opens_its_card(page: Any, live_server: Any) -> None:
    reference = reference_answer(live_server)
    markers = sorted({int(n) for n in re.findall(r"\[(\d+)\]", reference.answer)} & {c.n for c in reference.citations})
    if not markers:
        pytest.skip("this answer has no citation markers")
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
    chooser = page.get_by_label("Municipality")
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


# --------------------------------------------------------------------------- keyboard


def focused(page: Any) -> dict[str, str]:
    return page.evaluate(
        "(() => { const a = document.activeElement;"
        " return {tag: a.tagName, id: a.id, cls: a.className || '', text: (a.textContent || '').trim().slice(0, 80),"
        " outline: getComputedStyle(a).outlineStyle, visible: a.matches(':focus-visible')}; })()"
    )


def tab_until(page: Any, predicate: Any, key: str = "Tab", limit: int = 60) -> dict[str, str]:
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
    for _ in range(5):
        page.keyboard.press("Tab")
        info = focused(page)
        assert info["visible"] and info["outline"] != "none", info
        order.append(info["id"] or info["cls"])
    assert order == ["skip-link", "language", "municipality", "question", "send"], order

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

    if not reference.citations:
        pytest.skip("no citations to open")
    # back through the page with Shift+Tab to the first source card, open it with Enter
    info = tab_until(page, lambda f: f["tag"] == "SUMMARY", key="Shift+Tab")
    assert info["visible"] and info["outline"] != "none"
    page.keyboard.press("Enter")
    opened = page.evaluate("document.activeElement.parentElement.open")
    assert opened is True
    n = page.evaluate("document.activeElement.parentElement.dataset.n")
    citation = next(c for c in reference.citations if str(c.n) == n)
    card = page.locator(f"article.turn-assistant details.source-card[data-n='{n}']")
    assert re.sub(r"\s+", " ", citation.text).strip()[:60] in visible_text(card)

    # thumbs up and a comment by keyboard alone
    tab_until(page, lambda f: "thumb" in f["cls"])
    page.keyboard.press("Enter")
    assert focused(page)["tag"] == "TEXTAREA"
    page.keyboard.type("Fine")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Send feedback"
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('article.turn-assistant .feedback-status').textContent.length > 0"
    )
    assert page.locator("article.turn-assistant .feedback-status").inner_text() == "Thank you for your feedback."


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
    article = ask(page)
    page.get_by_label("Language").select_option("sv")
    assert page.locator("html").get_attribute("lang") == "sv"
    assert page.locator("h1").inner_text() == "Fråga om kommunens vård och omsorg"
    assert page.get_by_label("Din fråga").count() == 1
    assert page.locator("#municipality option").first.inner_text() == "Alla kommuner"
    assert page.title() == "Fråga om kommunens vård och omsorg"
    # page texts inside the answer follow; the answer keeps its own language
    assert article.locator(".feedback-question").inner_text() == "Var svaret till hjälp?"
    assert article.locator(".feedback-question").get_attribute("lang") == "sv"
    assert article.locator(".bubble-assistant").get_attribute("lang") == reference.language
    if reference.citations:
        assert article.locator(".sources-heading").inner_text() == "Källor"

    page.get_by_label("Språk").select_option("nb")
    assert page.locator("html").get_attribute("lang") == "nb"
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#municipality option').length > 1")
    assert page.locator("html").get_attribute("lang") == "nb", "the choice is remembered"
    assert page.get_by_label("Ditt spørsmål").count() == 1


# --------------------------------------------------------------------------- accessibility and layout


def test_axe_no_wcag_violations(page: Any, live_server: Any) -> None:
    open_app(page, live_server.url)
    assert_no_axe_violations(page, "empty page")
    article = ask(page)
    if article.locator("details.source-card").count():
        article.locator("details.source-card summary").first.click()
    article.locator(".thumb").last.click()  # shows the comment form
    assert_no_axe_violations(page, "after an answer")
    page.get_by_label("Language").select_option("da")
    assert_no_axe_violations(page, "after an answer, in Danish")


@pytest.mark.parametrize(("name", "width", "height"), [("desktop", 1280, 900), ("mobile-375", 375, 812)])
def test_screenshots_after_answer(browser: Any, live_server: Any, name: str, width: int, height: int) -> None:
    page = new_page(browser, width=width, height=height)
    try:
        open_app(page, live_server.url)
        article = ask(page)
        if article.locator("details.source-card").count():
            article.locator("details.source-card summary").first.click()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"answer-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 10_000
        assert page.evaluate("document.documentElement.scrollWidth") <= width, "no horizontal scrolling"
        assert not page.js_errors, page.js_errors
    finally:
        page.context.close()


def test_usable_at_320px(browser: Any, live_server: Any) -> None:
    page = new_page(browser, width=320, height=640)
    try:
        open_app(page, live_server.url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        article = ask(page)
        if article.locator("details.source-card").count():
            article.locator("details.source-card summary").first.click()
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        for selector in ("#question", "#send", "#language", "#municipality"):
            box = page.locator(selector).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 320, selector
        assert_no_axe_violations(page, "320 px")
    finally:
        page.context.close()


# --------------------------------------------------------------------------- crisis, hostile text, errors


class FakeAssistant:
    """Deterministic answers to check how the page renders each case."""

    def answer(self, question: str, municipality: str | None = None, history: list[dict] | None = None) -> Answer:
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
                    url="javascript:window.pwned=3",
                    text="<i>Citat</i> ur planen.",
                )
            ],
            pii_detected=True,
            latency_ms=(time.perf_counter() - started) * 1000,
        )


def test_crisis_answer_is_prominent_alert(browser: Any, start_server: Any) -> None:
    server = start_server(FakeAssistant())
    page = new_page(browser)
    try:
        open_app(page, server.url)
        article = ask(page, "crisis now")
        bubble = article.locator(".bubble-assistant")
        assert "crisis" in (bubble.get_attribute("class") or "")
        assert bubble.get_attribute("role") == "alert"
        assert bubble.get_attribute("lang") == "da"
        assert "Do you need help now?" in bubble.inner_text()
        assert "Ring 112" in bubble.inner_text()
        border = page.evaluate("getComputedStyle(document.querySelector('.bubble-assistant.crisis')).borderLeftWidth")
        assert float(border.rstrip("px")) >= 6
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "crisis-desktop.png"), full_page=True)
        assert_no_axe_violations(page, "crisis answer")
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
        card.locator("summary").click()
        assert "<script>window.pwned=2</script>Omvårdnad" in card.inner_text()
        assert "<i>Citat</i> ur planen." in card.inner_text()
        assert card.locator("a").count() == 0, "javascript: links are dropped"
        assert page.locator("#log img, #log script, #log b, #log i").count() == 0
        assert page.evaluate("window.pwned") is None
        assert "removed personal details" in article.inner_text()
        assert article.get_by_role("button", name="Show source 1").count() == 2
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
