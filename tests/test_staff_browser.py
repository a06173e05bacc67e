"""The staff console in a real (Debian) Chromium: its languages, where its messages appear,
and the screenshots the README shows (docs/screenshots/staff-*.png).

The console's actions themselves are tested through gradio_client in tests/test_staff.py;
here a person uses it: logs in, switches language, removes and restores a document,
reads feedback, looks at the trends and approves a translation.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from assistant.answer import Assistant
from assistant.config import REPO_ROOT, Settings
from assistant.index import build_index
from assistant.knowledge import load_manifest
from assistant.retrieve import Retriever
from assistant.serve import create_app
from tests.conftest import VECTOR_CACHE
from tests.conftest_web import LiveServer, serve_in_thread
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, doc_shot

pytest_plugins = ["tests.conftest_web"]

sync_api = pytest.importorskip("playwright.sync_api")

USER = "redaktor"
PASSWORD = "another-not-default-0815"
SOURCE_DOC = "se-soderhamn-omvardnad-2-1"
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")


@pytest.fixture(scope="module")
def console_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("staff-browser")
    shutil.copytree(REPO_ROOT / "knowledge", root / "knowledge")
    return Settings(
        knowledge_dir=root / "knowledge",
        data_dir=root / "data",
        staff_user=USER,
        staff_password=SecretStr(PASSWORD),
        vector_cache=VECTOR_CACHE,
    )


@pytest.fixture(scope="module")
def console_server(console_settings: Settings, embedder: Any) -> Iterator[LiveServer]:
    report = build_index(console_settings, embedder=embedder)
    assert not report.errors, report.errors
    assistant = Assistant(console_settings, retriever=Retriever(console_settings, embedder=embedder))
    server = serve_in_thread(create_app(console_settings, assistant), console_settings)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def login(browser: Any, server: LiveServer, locale: str) -> Any:
    context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.url + "/staff/")
    page.locator("input[type=text]").first.fill(USER)
    page.locator("input[type=password]").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#console-lang")
    return page


def tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def choose(page: Any, label: str, option: str) -> None:
    """Pick an option of a Gradio dropdown by its visible label."""
    page.get_by_label(label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def wait_text(page: Any, selector: str, text: str) -> Any:
    page.wait_for_function(
        "([s, t]) => { const n = document.querySelector(s); return n && n.innerText.includes(t); }",
        arg=[selector, text],
    )
    return page.locator(selector)


def below(page: Any, first: Any, second: Any, within: float = 120) -> bool:
    """``second`` starts just under ``first`` and overlaps it horizontally (the message sits by its button)."""
    a, b = first.bounding_box(), second.bounding_box()
    return bool(a and b and 0 <= b["y"] - (a["y"] + a["height"]) <= within and b["x"] < a["x"] + a["width"])


def test_console_follows_the_browser_language_and_the_choice_is_remembered(
    browser: Any, console_server: LiveServer
) -> None:
    page = login(browser, console_server, "da-DK")
    try:
        wait_text(page, "body", "Medarbejderkonsol")
        names = [t.strip() for t in page.get_by_role("tab").all_inner_texts()]
        assert names == [
            "Prøv et spørgsmål", "Sammenlign indstillinger", "Dokumenter", "Tilbagemeldinger", "Udvikling",
            "Oversættelser", "Kvalitetsmålinger",
        ]  # fmt: skip
        assert page.get_by_label("Konsollens sprog").count() == 1
        choose(page, "Konsollens sprog", "Svenska")
        wait_text(page, "body", "Personalkonsol")
        page.get_by_role("tab", name="Översättningar").wait_for()
        page.get_by_label("Konsolens språk").wait_for()
        page.wait_for_function("() => window.localStorage.getItem('care.console.lang') === 'sv'")
        page.reload()
        page.wait_for_selector("#console-lang")
        wait_text(page, "body", "Personalkonsol")  # remembered in this browser
        # technical detail is folded away
        assert page.get_by_text("Detaljer (för teknisk personal)").first.is_visible()
        assert not page.get_by_text("Sökresultat med poäng (sammanvägd, BM25, dense)").first.is_visible()
    finally:
        page.context.close()


def test_remove_with_confirmation_and_undo_messages_beside_their_buttons(
    browser: Any, console_server: LiveServer, console_settings: Settings
) -> None:
    page = login(browser, console_server, "en-GB")
    try:
        tab(page, "Documents")
        wait_text(page, "body", SOURCE_DOC)
        choose(page, "Document to remove", SOURCE_DOC)
        remove = page.get_by_role("button", name="Remove…")
        remove.click()
        message = wait_text(page, "#remove-message", "Remove “Omvårdnad 2.1")
        assert below(page, remove, message), "the question appears right under the button"
        yes = page.get_by_role("button", name="Yes, remove it")
        assert yes.is_visible() and page.get_by_role("button", name="Cancel").is_visible()
        assert SOURCE_DOC in [d.id for d in load_manifest(console_settings)], "nothing happens before confirming"
        doc_shot(page, "staff-remove-confirm-en.png", full_page=False)
        yes.click()
        wait_text(page, "#remove-message", "Removed")
        assert not yes.is_visible()
        assert SOURCE_DOC not in [d.id for d in load_manifest(console_settings)]
        assert page.locator("#undo-message").inner_text().strip() == "", "no message far from its button"
        chat = httpx.post(
            console_server.url + "/api/chat", json={"message": "Vad säger planen om Söderhamn?"}, timeout=30
        ).json()
        assert all(c["document"] != SOURCE_DOC for c in chat["citations"])

        undo = page.get_by_role("button", name="Undo removal")
        undo.click()  # the removed document is already chosen
        undo_message = wait_text(page, "#undo-message", "is back in the answers")
        assert below(page, undo, undo_message)
        assert SOURCE_DOC in [d.id for d in load_manifest(console_settings)]
    finally:
        page.context.close()


def test_feedback_trends_and_translation_review_as_staff_see_them(
    browser: Any, console_server: LiveServer, console_settings: Settings
) -> None:
    asked = httpx.post(
        console_server.url + "/api/chat",
        json={"message": "Hvad siger den norske plan om demens?", "language": "da"},
        timeout=30,
    ).json()
    httpx.post(
        console_server.url + "/api/feedback",
        json={"answer_id": asked["id"], "helpful": False, "reason": "hard_to_understand", "comment": "For svært"},
        timeout=10,
    ).raise_for_status()
    for message in ("Hvad koster en plejehjemsplads?", "Hvad siger planerne om parkeringsbøder i Aarhus?"):
        httpx.post(console_server.url + "/api/chat", json={"message": message}, timeout=30).raise_for_status()

    page = login(browser, console_server, "da-DK")
    try:
        wait_text(page, "body", "Medarbejderkonsol")
        tab(page, "Tilbagemeldinger")
        show = page.get_by_role("button", name="Vis tilbagemeldinger")
        show.click()
        summary = wait_text(page, "#feedback-message", "tilbagemeldinger")
        assert below(page, show, summary, within=160)
        page.get_by_label("Læs én i sin helhed", exact=True).click()
        page.get_by_role("option").first.click()
        entry = wait_text(page, "#feedback-entry", "Svaret, som borgeren så det")
        assert "svært at forstå" in entry.inner_text() and "For svært" in entry.inner_text()
        assert asked["answer"].strip().splitlines()[-1][:60] in entry.inner_text()
        doc_shot(page, "staff-feedback-da.png", full_page=False)

        tab(page, "Udvikling")
        show = page.get_by_role("button", name="Vis udvikling")
        show.click()
        message = wait_text(page, "#trends-message", "spørgsmål")
        assert below(page, show, message, within=160)
        page.wait_for_selector("img[src^='data:image/png'], .plot-container img")
        doc_shot(page, "staff-trends-da.png", full_page=False)

        choose(page, "Konsollens sprog", "Norsk (bokmål)")
        wait_text(page, "body", "Konsoll for ansatte")
        tab(page, "Oversettelser")
        choose(page, "Dokument", "Strategisk plan Helse, omsorg og velferd 2020-2030, Handlingsplan 2020-2024")
        choose(page, "Oversettelse til", "English")
        page.get_by_label("Bare utsagn som ikke er godkjent ennå").uncheck()  # all are reviewed already
        page.get_by_role("button", name="Vis utsagn").click()
        wait_text(page, "#units-message", "utsagn vises")
        page.get_by_label("Utsagn som skal gjennomgås", exact=True).click()
        page.get_by_role("option").first.click()
        page.wait_for_function(
            "() => [...document.querySelectorAll('textarea')].some(t => t.value.length > 0 && t.disabled)"
        )
        approve = page.get_by_role("button", name="Lagre og godkjenn")
        approve.click()
        result = wait_text(page, "#translation-message", "Godkjent av")
        assert f"Godkjent av {USER}" in result.inner_text()
        assert below(page, approve, result)
        doc_shot(page, "staff-translations-nb.png", full_page=False)
        text = (console_settings.translations_dir / "no-helse-omsorg-velferd-2020-2030.yaml").read_text(
            encoding="utf-8"
        )
        assert f"by: {USER}" in text
    finally:
        page.context.close()


def test_the_login_page_and_the_console_start(browser: Any, console_server: LiveServer) -> None:
    context = browser.new_context(locale="en-GB", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    try:
        page.goto(console_server.url + "/staff/")
        page.wait_for_selector("input[type=password]")
        assert "Staff console" in page.inner_text("body") and "Medarbejderkonsol" in page.inner_text("body")
        page.locator("input[type=text]").first.fill(USER)
        page.locator("input[type=password]").fill("wrong")
        page.keyboard.press("Enter")
        page.wait_for_timeout(500)
        assert page.locator("#console-lang").count() == 0
        page.close()
        page = login(browser, console_server, "en-GB")
        wait_text(page, "body", "Staff console")
        page.get_by_label("Question", exact=True).fill("What support is there for relatives?")
        page.get_by_role("button", name="Answer", exact=True).click()
        wait_text(page, "#test-answer", "Outcome:")
        doc_shot(page, "staff-try-en.png", full_page=False)
    finally:
        page.context.close()
        context.close()
