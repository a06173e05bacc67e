"""The HTTP service: the citizens' chat API and the page that uses it.

Endpoints
    POST /api/chat             question in, the answer contract (``Answer``) out
    POST /api/chat/stream      the same answer as server-sent events:
                               ``status`` -> ``delta``... -> ``citations`` -> ``done``
    GET  /api/municipalities   the municipalities the knowledge base covers
    POST /api/feedback         thumbs up/down, an optional reason and comment (redacted)
    GET  /api/privacy          what is stored and for how many days (the privacy notice)
    GET  /healthz              liveness and whether the assistant is loaded
    GET  /                     the chat page (static files under /static)
    GET  /docs                 OpenAPI documentation
    /staff                     the staff console (Gradio, ui/staff.py), only with a configured
                               login (CARE_STAFF_USER, CARE_STAFF_PASSWORD); otherwise 404

Raw questions and comments are never logged; only ids, statuses and timings.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from assistant.answer import Assistant, QuestionError
from assistant.config import REPO_ROOT, Settings
from assistant.contract import Answer
from assistant.feedback import FeedbackStore, UnknownAnswerError
from assistant.knowledge import ManifestError, load_manifest, municipalities

log = logging.getLogger("assistant.serve")

WEB_DIR = REPO_ROOT / "ui" / "web"
MAX_BODY_BYTES = 256 * 1024
MAX_STAFF_BODY_BYTES = 25 * 1024 * 1024  # document uploads in the staff console
MAX_HISTORY_TURNS = 20
MAX_HISTORY_CHARS = 8000
MAX_COMMENT_CHARS = 2000
STREAM_PAUSE_S = 0.02  # between delta events, so the answer visibly builds up

UNAVAILABLE = "The assistant is temporarily unavailable. Please try again in a moment."

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# The page loads only its own script and style; /docs (Swagger UI from a CDN) is exempt.
_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


# --------------------------------------------------------------------------- request models


class HistoryTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: StrictStr = Field(max_length=MAX_HISTORY_CHARS)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Generous hard cap on the raw body field; the configured limit (max_question_chars) gives the clear 422.
    message: StrictStr = Field(description="The citizen's question.", max_length=20_000)
    municipality: StrictStr | None = Field(
        default=None, description="A name from GET /api/municipalities; null or empty for all."
    )
    history: Annotated[list[HistoryTurn], Field(max_length=MAX_HISTORY_TURNS)] | None = Field(
        default=None, description="Earlier turns of this conversation, oldest first."
    )
    language: Literal["da", "sv", "nb", "en"] | None = Field(
        default=None,
        description="The language chosen on the page: the answer's language unless the question is clearly in another.",
    )


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer_id: StrictStr = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    helpful: StrictBool
    reason: Literal["did_not_answer", "wrong_municipality", "hard_to_understand", "other"] | None = Field(
        default=None, description="Why the answer did not help (with helpful=false)."
    )
    comment: StrictStr | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


class FeedbackResponse(BaseModel):
    id: str
    answer_id: str
    stored: bool = True


class Municipality(BaseModel):
    name: str
    country: str
    documents: list[str]


class Privacy(BaseModel):
    """What the service stores about a conversation and for how long (the page's privacy notice)."""

    retention_days: int
    stored: list[str]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    assistant: Literal["ready", "loading", "error"]


# --------------------------------------------------------------------------- helpers


class AssistantUnavailable(RuntimeError):
    """The assistant could not be built or failed while answering."""


class _AssistantHolder:
    """Builds the (slow to load) assistant once, on first use or at startup."""

    def __init__(self, settings: Settings, assistant: Assistant | None) -> None:
        self._settings = settings
        self._assistant = assistant
        self._lock = threading.Lock()
        self._failed = False

    @property
    def state(self) -> Literal["ready", "loading", "error"]:
        if self._assistant is not None:
            return "ready"
        return "error" if self._failed else "loading"

    def get(self) -> Assistant:
        if self._assistant is not None:
            return self._assistant
        with self._lock:
            if self._assistant is None:
                try:
                    self._assistant = Assistant(self._settings)
                    self._failed = False
                except Exception as exc:
                    self._failed = True
                    log.error("could not load the assistant: %s", type(exc).__name__)
                    raise AssistantUnavailable(UNAVAILABLE) from exc
            return self._assistant

    def warm(self) -> None:
        """Load in the background so the first citizen does not wait for the model."""

        def _load() -> None:
            with suppress(AssistantUnavailable):
                self.get()

        threading.Thread(target=_load, name="assistant-warmup", daemon=True).start()


_PIECE = re.compile(r"(?<=\n)|(?<=[.!?:])(?=[ \t])")


def split_pieces(text: str) -> list[str]:
    """Split answer text into stream pieces at line and sentence ends; they join back exactly."""
    return [piece for piece in _PIECE.split(text) if piece]


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def _readable(errors: list[dict[str, Any]]) -> tuple[int, str]:
    """A status code and one human-readable sentence for pydantic errors (never echoing input)."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "The request body is not valid JSON."
    messages = []
    for error in errors[:5]:
        name = _field_name(tuple(error.get("loc", ())))
        kind = error.get("type", "")
        if kind == "missing":
            messages.append(f"'{name}' is required.")
        elif kind == "extra_forbidden":
            messages.append(f"'{name}' is not an accepted field.")
        elif name == "body" and kind in {"model_attributes_type", "dict_type", "model_type"}:
            messages.append("The request body must be a JSON object.")
        else:
            messages.append(f"'{name}': {error.get('msg', 'invalid value')}.")
    return 422, "Invalid request: " + " ".join(messages)


# --------------------------------------------------------------------------- the app


def create_app(settings: Settings, assistant: Assistant | None = None) -> FastAPI:
    """The FastAPI application; builds the assistant at startup unless one is given."""
    holder = _AssistantHolder(settings, assistant)
    store = FeedbackStore(settings.database_path)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if holder.state != "ready":
            holder.warm()
        yield

    app = FastAPI(
        title="Municipal care services assistant",
        description=(
            "Answers citizens' questions about municipal care services in Denmark, Sweden and Norway "
            "from the municipalities' own plans, with citations. It is not a caseworker."
        ),
        version="1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.assistant_holder = holder

    # ---- errors: always JSON {"detail": "..."} and never a stack trace

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail = _readable(list(exc.errors()))
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(AssistantUnavailable)
    async def _unavailable(_request: Request, exc: AssistantUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "10"})

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %s", type(exc).__name__)
        return JSONResponse({"detail": "Something went wrong on our side. Please try again."}, status_code=500)

    @app.middleware("http")
    async def _guard(request: Request, call_next: Any) -> Response:
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return JSONResponse({"detail": "Invalid Content-Length header."}, status_code=400)
            limit = MAX_STAFF_BODY_BYTES if request.url.path.startswith("/staff/") else MAX_BODY_BYTES
            if int(length) > limit:
                return JSONResponse({"detail": "The request is too large."}, status_code=413)
        if request.method == "POST" and request.url.path.startswith("/api/"):
            ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/json":
                return JSONResponse({"detail": "Send the request body as application/json."}, status_code=415)
        response: Response = await call_next(request)
        for key, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        path = request.url.path
        if path == "/" or path.startswith("/static"):
            response.headers.setdefault("Content-Security-Policy", _PAGE_CSP)
        if path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    # ---- shared steps

    def known_municipalities() -> list[dict[str, Any]]:
        try:
            return municipalities(load_manifest(settings))
        except ManifestError as exc:
            log.error("cannot read the manifest: %s", type(exc).__name__)
            raise HTTPException(503, "The list of municipalities is unavailable right now.") from exc

    def document_languages() -> dict[str, str]:
        """Document id -> language, so the page can mark quoted passages with their own lang."""
        try:
            return {d.id: d.language for d in load_manifest(settings)}
        except ManifestError:
            return {}

    def validate(request: ChatRequest) -> tuple[str, str | None, list[dict[str, Any]] | None]:
        message = request.message.strip()
        if not message:
            raise HTTPException(422, "The question is empty. Please write a question.")
        limit = settings.max_question_chars
        if len(message) > limit:
            raise HTTPException(422, f"The question is too long ({len(message)} characters; the limit is {limit}).")
        municipality = (request.municipality or "").strip() or None
        if municipality is not None:
            names = {m["name"].casefold(): m["name"] for m in known_municipalities()}
            if municipality.casefold() not in names:
                raise HTTPException(
                    422,
                    "Unknown municipality. Choose one from GET /api/municipalities, or leave it empty for all.",
                )
            municipality = names[municipality.casefold()]
        history = [turn.model_dump() for turn in request.history] if request.history else None
        return message, municipality, history

    async def ask(request: ChatRequest) -> tuple[Answer, str | None]:
        message, municipality, history = await run_in_threadpool(validate, request)

        def _answer() -> Answer:
            assistant_ = holder.get()
            try:
                return assistant_.answer(
                    message, municipality=municipality, history=history, page_language=request.language
                )
            except QuestionError as exc:
                raise HTTPException(422, str(exc)) from exc
            except Exception as exc:
                log.error("assistant failed: %s", type(exc).__name__)
                raise AssistantUnavailable(UNAVAILABLE) from exc

        answer = await run_in_threadpool(_answer)
        try:
            await run_in_threadpool(store.record_answer, answer, municipality)
        except Exception as exc:  # an answer is worth more than its log line
            log.error("could not record answer %s: %s", answer.id, type(exc).__name__)
        log.info(
            "answer id=%s status=%s language=%s pii=%s latency_ms=%.0f",
            answer.id,
            answer.status,
            answer.language,
            answer.pii_detected,
            answer.latency_ms,
        )
        return answer, municipality

    # ---- endpoints

    @app.post("/api/chat", response_model=Answer, tags=["chat"])
    async def chat(request: ChatRequest) -> Answer:
        """Answer one question from the municipal plans, with numbered citations."""
        answer, _ = await ask(request)
        return answer

    @app.post(
        "/api/chat/stream",
        tags=["chat"],
        response_class=EventSourceResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."}},
    )
    async def chat_stream(request: ChatRequest) -> EventSourceResponse:
        """The answer as server-sent events.

        ``status`` ``{id, status, language, pii_detected, intent, municipality, office_country, question}``, then ``delta`` ``{text}`` pieces
        (lines and sentences, in order, joining to the full answer), then ``citations``
        ``[{n, document, title, municipality, section, period, url, text, language}]``
        (``language`` is the cited document's, from the manifest), then ``done``
        ``{id, latency_ms}``. Every ``data`` field is JSON.
        """
        answer, _ = await ask(request)
        languages = await run_in_threadpool(document_languages)
        citations = [{**c.model_dump(), "language": languages.get(c.document)} for c in answer.citations]

        async def events() -> AsyncIterator[dict[str, str]]:
            yield {
                "event": "status",
                "data": json.dumps(
                    {
                        "id": answer.id,
                        "status": answer.status,
                        "language": answer.language,
                        "pii_detected": answer.pii_detected,
                        "intent": answer.intent,
                        "municipality": answer.municipality,
                        "office_country": answer.office_country,
                        # The page keeps this redacted question as history, never what was typed.
                        "question": answer.question,
                    },
                    ensure_ascii=False,
                ),
            }
            for piece in split_pieces(answer.answer):
                yield {"event": "delta", "data": json.dumps({"text": piece}, ensure_ascii=False)}
                await asyncio.sleep(STREAM_PAUSE_S)
            yield {
                "event": "citations",
                "data": json.dumps(citations, ensure_ascii=False),
            }
            yield {"event": "done", "data": json.dumps({"id": answer.id, "latency_ms": answer.latency_ms})}

        return EventSourceResponse(events(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/api/municipalities", response_model=list[Municipality], tags=["knowledge"])
    async def list_municipalities() -> list[dict[str, Any]]:
        """Municipalities named by the knowledge-base documents (choose none for all)."""
        return await run_in_threadpool(known_municipalities)

    @app.post("/api/feedback", response_model=FeedbackResponse, status_code=201, tags=["feedback"])
    async def feedback(request: FeedbackRequest) -> FeedbackResponse:
        """Thumbs up or down on an answer, with an optional reason and comment (personal data is redacted)."""
        try:
            feedback_id = await run_in_threadpool(
                store.add_feedback, request.answer_id, request.helpful, request.comment, request.reason
            )
        except UnknownAnswerError as exc:
            raise HTTPException(404, "No answer with this id. Feedback must refer to an answer given here.") from exc
        log.info("feedback id=%s answer=%s helpful=%s", feedback_id, request.answer_id, request.helpful)
        return FeedbackResponse(id=feedback_id, answer_id=request.answer_id)

    @app.get("/api/privacy", response_model=Privacy, tags=["service"])
    async def privacy() -> Privacy:
        """What is stored (questions with personal data removed, the answers, feedback) and for how many days."""
        return Privacy(
            retention_days=settings.retention_days,
            stored=["question_redacted", "answer", "feedback_reason_and_comment_redacted"],
        )

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Health:
        """Liveness; ``assistant`` says whether the model and index are loaded."""
        return Health(assistant=holder.state)

    # ---- the page

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    # ---- the staff console, behind its login (not served at all without one)

    if settings.staff_allow_without_login or (settings.staff_user and settings.staff_password):
        from ui.staff import mount_console  # imports Gradio, so only when the console is served

        mount_console(app, settings, holder.get)
    return app


def run(settings: Settings) -> None:
    """Serve the app with uvicorn on ``settings.host``:``settings.port``."""
    import uvicorn

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
