"""LLM answer mode, against a stand-in for a hosted model over the real OpenAI protocol.

A hosted LLM cannot run here, so a small HTTP server on loopback speaks the
chat-completions protocol. The project's own code (LangChain's ChatOpenAI
client, our grounding check and fallback) runs for real.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from assistant.config import Settings

QUESTION = "Hvad gør kommunen for borgere med demens og deres pårørende?"
ECHO = "<echo>"


class _FakeModel:
    def __init__(self) -> None:
        self.reply: str = ""
        self.status = 200
        self.requests: list[dict[str, Any]] = []


@pytest.fixture()
def fake_model() -> Iterator[tuple[_FakeModel, str]]:
    model = _FakeModel()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            model.requests.append(body)
            if model.status != 200:
                self.send_response(model.status)
                self.end_headers()
                self.wfile.write(b'{"error": {"message": "backend down"}}')
                return
            content = model.reply
            if content == ECHO:  # a faithful "translation": the text itself, marked
                content = "EN: " + str(body["messages"][-1]["content"])
            payload = {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "test"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield model, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


def _llm_settings(base: Settings, url: str) -> Settings:
    return base.model_copy(
        update={"answer_mode": "llm", "llm_base_url": url, "llm_api_key": SecretStr("test"), "llm_timeout_s": 5}
    )


def test_a_grounded_model_answer_is_used(assistant, fake_model) -> None:  # type: ignore[no-untyped-def]
    model, url = fake_model
    model.reply = "Kommunen vil styrke sammenhængende forløb for borgere med demens og pårørende [1]."
    answer = assistant.answer(QUESTION, settings=_llm_settings(assistant.settings, url))
    assert answer.status == "answered" and answer.answer.startswith(model.reply)
    assert "2021-2022" in answer.answer, "the period note and the sources still close the answer"
    sent = json.dumps(model.requests[-1], ensure_ascii=False)
    assert "demens" in sent and "[1]" in sent, "the model is given the numbered passages"


@pytest.mark.parametrize(
    ("status", "reply"),
    [
        (200, "Kommunen bygger 40 nye plejeboliger."),
        (200, "Se kilde [9]."),
        (200, "Demens er prioriteret [1].\nKommunen bygger 40 nye plejeboliger."),
        (500, ""),
    ],
    ids=["no-citation", "unknown-citation", "one-line-uncited", "backend-error"],
)
def test_an_ungrounded_or_failing_model_falls_back_to_the_composed_answer(
    assistant, fake_model, status: int, reply: str
) -> None:  # type: ignore[no-untyped-def]
    model, url = fake_model
    model.status, model.reply = status, reply
    answer = assistant.answer(QUESTION, settings=_llm_settings(assistant.settings, url))
    composed = assistant.answer(QUESTION)
    assert answer.status == "answered" and answer.citations
    assert answer.answer == composed.answer
    assert "40 nye plejeboliger" not in answer.answer


def test_a_new_documents_statements_are_drafted_for_review(fictional_kb, fake_model) -> None:  # type: ignore[no-untyped-def]
    """Staff add a document; with an LLM configured its statements arrive in the translation memory as drafts."""
    from assistant.contract import DocumentMeta
    from assistant.knowledge_base import add_and_index
    from assistant.translations import TranslationMemory

    model, url = fake_model
    model.reply = ECHO
    settings = _llm_settings(fictional_kb, url).model_copy(update={"translation_drafts": 100})
    meta = DocumentMeta(
        id="fjordby-demens",
        file="fjordby-demens.md",
        title="Fjordby demensplan (fiktiv)",
        municipality="Fjordby Kommune (fiktiv)",
        country="DK",
        language="da",
        period="2031-2034",
    )
    text = "# Demens\n\nFjordby åbner en demenscafé i 2032.\n\nPårørende får tilbud om samtaler.\n"
    report = add_and_index(settings, text.encode(), meta)
    assert report.indexed == ["fjordby-demens"]
    memory = TranslationMemory(settings.translations_dir)
    units = memory.units("fjordby-demens")
    assert any("2032" in str(u["source"]) for u in units)
    for unit in units:
        for language in ("sv", "nb", "en"):
            found = memory.get(str(unit["key"]), language)
            assert found is not None and found.status == "draft" and found.by.startswith("llm:"), (unit, language)
    assert len(model.requests) == 3 * len(units)
