"""The HTTP service: the citizens' chat API and the page that uses it.

Endpoints
    POST /api/chat             question in, the answer contract (``Answer``) out
    POST /api/chat/stream      the same answer as server-sent events:
                               ``status`` -> ``delta``... -> ``citations`` -> ``done``
    GET  /api/municipalities   the municipalities the knowledge base covers
    POST /api/feedback         thumbs up/down, an optional reason and comment (redacted); one per answer
    GET  /api/privacy          what is stored, for how long, and what never is (the privacy notice)
    GET  /healthz              liveness: 200 once the assistant is ready, 503 while loading or broken
    GET  /readyz               readiness: the same, saying what is wrong when it is
    GET  /                     the chat page (static files under /static)
    POST /                     the page's form without JavaScript: an answer page (the question never
                               goes into a URL)
    GET  /docs                 OpenAPI documentation; every error response is documented
    /staff                     the staff console (Gradio, ui/staff.py), only with a configured
                               login (CARE_STAFF_USER, CARE_STAFF_PASSWORD); otherwise 404

Start-up: the port opens at once; the model and the index load (and answer one
warm-up question) in the background, and until then every question gets 503
with ``Retry-After``. A load that fails is retried every ``CARE_STARTUP_RETRY_S``
seconds, so ``python -m assistant index`` repairs a broken service without a restart.

Limits (:mod:`assistant.guard`): body bytes as they arrive, header size, header,
body and idle timeouts, concurrent connections, and per-client rates for chat,
feedback and the staff login.

Raw questions and comments are never logged; only ids, statuses and timings.
Stored questions and feedback are deleted after ``CARE_RETENTION_DAYS`` days.
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
import logging
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError, create_model
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from assistant.answer import Assistant, QuestionError
from assistant.config import REPO_ROOT, Settings
from assistant.contract import Answer, UserFacingError
from assistant.feedback import DuplicateFeedbackError, FeedbackStore, UnknownAnswerError
from assistant.guard import (
    BodyDeadlineMiddleware,
    DropQueryStrings,
    RateLimitMiddleware,
    UploadPathGuard,
    rate_rules,
    send_json,
    uvicorn_config,
)
from assistant.ingest import SUPPORTED_SUFFIXES
from assistant.knowledge import ManifestError, load_manifest, municipalities, prompt

log = logging.getLogger("assistant.serve")

WEB_DIR = REPO_ROOT / "ui" / "web"
MAX_HISTORY_TURNS = 20
MAX_HISTORY_CHARS = 8000
MAX_COMMENT_CHARS = 2000
STREAM_PAUSE_S = 0.02  # between delta events, so the answer visibly builds up
RETENTION_INTERVAL_S = 24 * 3600
RETRY_AFTER_LOADING_S = 5
RETRY_AFTER_BROKEN_S = 30
WORKER_HEALTHCHECK_S = 60

UNAVAILABLE = "The assistant is temporarily unavailable. Please try again in a moment."
STARTING = "The assistant is starting. Please try again in a few seconds."

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


# "Some character that is not white space" by every engine that reads the schema: Python's str.strip()
# (what the service checks) also strips \x1c-\x1f and \x85, which ECMAScript's \s does not, and
# ECMAScript's \s has \ufeff, which Python's has not.
SOME_TEXT = r"[^\s\u001c-\u001f\u0085\ufeff]"


class HistoryTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: StrictStr = Field(max_length=MAX_HISTORY_CHARS)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The app narrows this to the configured limit (max_question_chars): see chat_request_model().
    message: StrictStr = Field(
        description="The citizen's question.", min_length=1, max_length=20_000, pattern=SOME_TEXT
    )
    municipality: StrictStr | None = Field(
        default=None,
        description="A name from GET /api/municipalities (matched without regard to case); null or empty for all.",
    )
    history: Annotated[list[HistoryTurn], Field(max_length=MAX_HISTORY_TURNS)] | None = Field(
        default=None, description="Earlier turns of this conversation, oldest first."
    )
    language: Literal["da", "sv", "nb", "en"] | None = Field(
        default=None,
        description="The language chosen on the page: the answer's language unless the question is clearly in another.",
    )


def chat_request_model(max_chars: int) -> type[ChatRequest]:
    """ChatRequest with the configured question length in its schema, so the contract says what is accepted."""
    field = Field(
        description=f"The citizen's question: some text, at most {max_chars} characters.",
        min_length=1,
        max_length=max_chars,
        pattern=SOME_TEXT,
    )
    model: type[ChatRequest] = create_model("ChatRequest", __base__=ChatRequest, message=(StrictStr, field))
    return model


def _body_is(model: type[BaseModel]) -> Callable[[Any], Any]:
    """Give an endpoint's ``request`` body a model built at run time (annotations here are strings)."""

    def mark(endpoint: Any) -> Any:
        endpoint.__annotations__["request"] = model
        return endpoint

    return mark


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


class Health(BaseModel):
    status: Literal["ok", "unavailable"] = Field(description="'ok' when the assistant answers questions.")
    assistant: Literal["ready", "loading", "error"]


class Readiness(BaseModel):
    status: Literal["ready", "loading", "error"]
    detail: str | None = Field(default=None, description="What is wrong, when the status is 'error'.")


class ErrorResponse(BaseModel):
    detail: str = Field(description="One readable sentence; never echoes the input.")


class StoredItem(BaseModel):
    what: str
    why: str
    kept_days: int | None = Field(description="Deleted after this many days; null if not kept at all.")


class PrivacyInfo(BaseModel):
    retention_days: int = Field(description="Stored questions and feedback are deleted after this many days.")
    stored: list[StoredItem]
    never_stored: list[str]
    personal_data: str


_ERROR_TEXT = {
    400: "The body is not valid JSON, or a header is invalid.",
    404: "Not found.",
    408: "The request body did not arrive in time.",
    409: "Already done: an answer takes one feedback.",
    413: "The request body is too large.",
    415: "The body must be sent as application/json.",
    422: "The request is well-formed but its values are not accepted.",
    429: "Too many requests from this client; see Retry-After.",
    503: "The assistant is starting or out of order; see Retry-After.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error responses an operation gives, all ``{"detail": str}``."""
    return {code: {"model": ErrorResponse, "description": _ERROR_TEXT[code]} for code in codes}


_BODY_ERRORS = (400, 408, 413, 415, 422, 429)
# One event of /api/chat/stream (OpenAPI 3.1: the schema of an event stream describes each event).
_SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["status", "delta", "citations", "done"]},
        "data": {"type": "string", "description": "JSON: see the operation's description."},
    },
}


# --------------------------------------------------------------------------- helpers


class AssistantUnavailable(RuntimeError):
    """The assistant is not loaded yet, could not be loaded, or failed while answering."""

    def __init__(self, message: str = UNAVAILABLE, retry_after: int = RETRY_AFTER_LOADING_S) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _AssistantHolder:
    """Loads the (slow to load) assistant in the background and says whether it is ready.

    Nothing waits for the load: until it is done, :meth:`get` raises
    :class:`AssistantUnavailable` at once. A failed load is retried until it works.
    """

    def __init__(
        self, settings: Settings, assistant: Assistant | None, factory: Callable[[Settings], Assistant]
    ) -> None:
        self._settings = settings
        self._assistant = assistant
        self._factory = factory
        self._state: Literal["ready", "loading", "error"] = "ready" if assistant is not None else "loading"
        self._problem: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> Literal["ready", "loading", "error"]:
        return self._state

    def start(self) -> None:
        if self._assistant is None and self._thread is None:
            self._thread = threading.Thread(target=self._load, name="assistant-loader", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _load(self) -> None:
        while not self._stop.is_set():
            try:
                assistant = self._factory(self._settings)
                warm_up = getattr(assistant, "warm_up", None)
                if callable(warm_up):
                    warm_up()
            except Exception as exc:
                self._state, self._problem = "error", _describe(exc)
                log.error("could not load the assistant (retrying in %.0f s): %s", self._settings.startup_retry_s,
                          self._problem)  # fmt: skip
                self._stop.wait(self._settings.startup_retry_s)
                continue
            self._assistant = assistant
            self._state, self._problem = "ready", None
            log.info("assistant ready")
            return

    def get(self) -> Assistant:
        """The loaded assistant; raises :class:`AssistantUnavailable` while there is none."""
        if self._assistant is None:
            if self._state == "error":
                raise AssistantUnavailable(UNAVAILABLE, RETRY_AFTER_BROKEN_S)
            raise AssistantUnavailable(STARTING, RETRY_AFTER_LOADING_S)
        return self._assistant

    def check(self) -> tuple[Literal["ready", "loading", "error"], str | None]:
        """The state now: a loaded assistant's index is verified against the disk first."""
        if self._assistant is None:
            return self._state, self._problem
        verify = getattr(getattr(self._assistant, "retriever", None), "verify", None)
        try:
            if callable(verify):
                verify()
        except Exception as exc:
            self._state, self._problem = "error", _describe(exc)
            return self._state, self._problem
        self._state, self._problem = "ready", None
        return self._state, None


def _describe(exc: Exception) -> str:
    """An operator's one-line account of a failure (index errors say what to do)."""
    if isinstance(exc, UserFacingError):
        return str(exc)
    return f"{type(exc).__name__} while loading the model and the index; see the service log."


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
        if name == "message" and kind in {"string_too_short", "string_pattern_mismatch"}:
            messages.append("The question is empty. Please write a question.")
        elif name == "message" and kind == "string_too_long":
            given = error.get("input")
            length = f"{len(given)} characters; " if isinstance(given, str) else ""
            limit = (error.get("ctx") or {}).get("max_length")
            messages.append(f"The question is too long ({length}the limit is {limit}).")
        elif kind == "missing":
            messages.append(f"'{name}' is required.")
        elif kind == "extra_forbidden":
            messages.append(f"'{name}' is not an accepted field.")
        elif name == "body" and kind in {"model_attributes_type", "dict_type", "model_type"}:
            messages.append("The request body must be a JSON object.")
        else:
            messages.append(f"'{name}': {error.get('msg', 'invalid value')}.")
    if len(messages) == 1 and messages[0].startswith("The question is"):
        return 422, messages[0]
    return 422, "Invalid request: " + " ".join(messages)


# --------------------------------------------------------------------------- the app


def create_app(settings: Settings, assistant: Assistant | None = None) -> FastAPI:
    """The FastAPI application; loads the assistant in the background at start-up unless one is given."""
    holder = _AssistantHolder(settings, assistant, lambda cfg: Assistant(cfg))
    question_model = chat_request_model(settings.max_question_chars)
    store = FeedbackStore(settings.database)

    async def retention() -> None:
        """Delete what is older than the retention period: at start-up, then daily."""
        while True:
            try:
                deleted = await run_in_threadpool(store.purge, settings.retention_days)
                log.info("retention: deleted %(answers)d questions and %(feedback)d feedback", deleted)
            except Exception as exc:
                log.error("retention: could not delete old records: %s", type(exc).__name__)
            await asyncio.sleep(RETENTION_INTERVAL_S)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        holder.start()
        task = asyncio.create_task(retention())
        yield
        holder.stop()
        task.cancel()

    app = FastAPI(
        title="Municipal care services assistant",
        description=(
            "Answers citizens' questions about municipal care services in Denmark, Sweden and Norway "
            "from the municipalities' own plans, with citations. It is not a caseworker.\n\n"
            'Every error is JSON `{"detail": "..."}`. Questions are limited per client '
            "(429 with Retry-After); while the assistant starts or is out of order, it answers 503 with Retry-After."
        ),
        version="1.1",
        lifespan=lifespan,
        # Bytes as they arrive, chunked bodies included (413); the API's routes set a smaller limit.
        max_body_size=settings.max_staff_body_bytes,
    )
    api_body = settings.max_body_bytes

    def body_limit(path: str) -> int:
        return settings.max_staff_body_bytes if path.startswith("/staff") else api_body

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
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %s", type(exc).__name__)
        return JSONResponse({"detail": "Something went wrong on our side. Please try again."}, status_code=500)

    # ---- shared steps

    def known_municipalities() -> list[dict[str, Any]]:
        try:
            return municipalities(load_manifest(settings))
        except ManifestError as exc:
            log.error("cannot read the manifest: %s", type(exc).__name__)
            raise AssistantUnavailable("The list of municipalities is unavailable right now.") from exc

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
        # Not stripped: the schema lists "" and the names (GET /openapi.json), so a blank of spaces
        # is refused like any other string that is not a name (schemathesis found "\u00a0" accepted).
        municipality = request.municipality or None
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
        assistant_ = holder.get()  # 503 at once while loading: nothing waits for the model

        def _answer() -> Answer:
            if holder.check()[0] != "ready":  # a damaged index is not answered from (checked at most once a second)
                raise AssistantUnavailable(UNAVAILABLE, RETRY_AFTER_BROKEN_S)
            try:
                return assistant_.answer(
                    message, municipality=municipality, history=history, page_language=request.language
                )
            except QuestionError as exc:
                raise HTTPException(422, str(exc)) from exc
            except Exception as exc:
                log.error("assistant failed: %s", type(exc).__name__)
                raise AssistantUnavailable(UNAVAILABLE, RETRY_AFTER_BROKEN_S) from exc

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

    @app.post(
        "/api/chat",
        response_model=Answer,
        tags=["chat"],
        responses=error_responses(*_BODY_ERRORS, 503),
        max_body_size=api_body,
    )
    @_body_is(question_model)
    async def chat(request: ChatRequest) -> Answer:
        """Answer one question from the municipal plans, with numbered citations."""
        answer, _ = await ask(request)
        return answer

    @app.post(
        "/api/chat/stream",
        tags=["chat"],
        response_class=EventSourceResponse,
        responses={
            200: {
                "content": {"text/event-stream": {"schema": _SSE_EVENT}},
                "description": "Server-sent events.",
            },
            **error_responses(*_BODY_ERRORS, 503),
        },
        max_body_size=api_body,
    )
    @_body_is(question_model)
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

    @app.get(
        "/api/municipalities",
        response_model=list[Municipality],
        tags=["knowledge"],
        responses=error_responses(503),
    )
    async def list_municipalities() -> list[dict[str, Any]]:
        """Municipalities named by the knowledge-base documents (choose none for all)."""
        return await run_in_threadpool(known_municipalities)

    @app.post(
        "/api/feedback",
        response_model=FeedbackResponse,
        status_code=201,
        tags=["feedback"],
        responses=error_responses(*_BODY_ERRORS, 404, 409),
        max_body_size=api_body,
    )
    async def feedback(request: FeedbackRequest) -> FeedbackResponse:
        """Thumbs up or down on an answer, with an optional reason and comment (personal data is redacted).

        One feedback per answer: a second one gets 409.
        """
        try:
            feedback_id = await run_in_threadpool(
                store.add_feedback, request.answer_id, request.helpful, request.comment, request.reason
            )
        except UnknownAnswerError as exc:
            raise HTTPException(404, "No answer with this id. Feedback must refer to an answer given here.") from exc
        except DuplicateFeedbackError as exc:
            raise HTTPException(409, "This answer already has feedback; thank you.") from exc
        log.info("feedback id=%s answer=%s helpful=%s", feedback_id, request.answer_id, request.helpful)
        return FeedbackResponse(id=feedback_id, answer_id=request.answer_id)

    @app.get("/api/privacy", response_model=PrivacyInfo, tags=["service"])
    async def privacy() -> PrivacyInfo:
        """What the service stores, why, and for how long (for the page's privacy notice)."""
        days = settings.retention_days
        return PrivacyInfo(
            retention_days=days,
            stored=[
                StoredItem(
                    what="questions, with personal data removed, and the answers given to them",
                    why="to find questions the plans do not answer",
                    kept_days=days,
                ),
                StoredItem(
                    what="feedback on answers (helpful or not, a reason, and a comment with personal data removed)",
                    why="to improve the answers",
                    kept_days=days,
                ),
            ],
            never_stored=[
                "ID numbers, e-mail addresses and phone numbers (removed before anything is stored or logged)",
                "IP addresses and the text of questions in logs",
                "cookies or a profile of the person asking",
            ],
            personal_data=(
                "Personal ID numbers, e-mail addresses and phone numbers are replaced by [cpr], [email], [phone] "
                "and similar before a question is answered, stored or logged."
            ),
        )

    def health_response(model: BaseModel, ready: bool, retry_after: int) -> JSONResponse:
        headers = {"Cache-Control": "no-store"}
        if not ready:
            headers["Retry-After"] = str(retry_after)
        return JSONResponse(model.model_dump(), status_code=200 if ready else 503, headers=headers)

    async def current_state() -> tuple[Literal["ready", "loading", "error"], str | None]:
        return await run_in_threadpool(holder.check)

    @app.get(
        "/healthz",
        response_model=Health,
        tags=["service"],
        responses={503: {"model": Health, "description": "Starting, or out of order."}},
    )
    async def healthz() -> JSONResponse:
        """Liveness: 200 while the assistant answers; 503 while it loads or when its index is broken."""
        state, _ = await current_state()
        body = Health(status="ok" if state == "ready" else "unavailable", assistant=state)
        return health_response(body, state == "ready", RETRY_AFTER_LOADING_S)

    @app.get(
        "/readyz",
        response_model=Readiness,
        tags=["service"],
        responses={503: {"model": Readiness, "description": "Starting, or out of order: 'detail' says what is wrong."}},
    )
    async def readyz() -> JSONResponse:
        """Readiness: 200 when the model and the index are loaded and match the disk; else 503 and why."""
        state, problem = await current_state()
        wait = RETRY_AFTER_LOADING_S if state == "loading" else RETRY_AFTER_BROKEN_S
        return health_response(Readiness(status=state, detail=problem), state == "ready", wait)

    base_openapi = app.openapi

    def openapi_with_municipalities() -> dict[str, Any]:
        """The schema, with the municipalities a question may name as they are now (staff add and remove)."""
        app.openapi_schema = None
        schema: dict[str, Any] = base_openapi()
        try:
            names = [m["name"] for m in municipalities(load_manifest(settings))]
        except ManifestError:
            return schema
        field = schema["components"]["schemas"]["ChatRequest"]["properties"]["municipality"]
        for option in field.get("anyOf", []):
            if option.get("type") == "string":
                option["enum"] = ["", *names]
        return schema

    app.openapi = openapi_with_municipalities  # type: ignore[method-assign]

    # ---- the page

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html; charset=utf-8")

    @app.post("/", include_in_schema=False, max_body_size=api_body)
    async def ask_without_javascript(request: Request) -> HTMLResponse:
        """The page's form without JavaScript posts here, so the question never lands in a URL or a log."""
        form = await request.form(max_files=0, max_fields=8)
        question = form.get("question")
        try:
            answer, _ = await ask(question_model(message=question if isinstance(question, str) else ""))
        except HTTPException as exc:
            return HTMLResponse(_answer_page(settings, "en", None, str(exc.detail)), status_code=exc.status_code)
        except ValidationError as exc:
            _, detail = _readable([dict(e) for e in exc.errors()])
            return HTMLResponse(_answer_page(settings, "en", None, detail), status_code=422)
        except AssistantUnavailable as exc:
            page = _answer_page(settings, "en", None, prompt(settings, "en", "page_unavailable"))
            return HTMLResponse(page, status_code=503, headers={"Retry-After": str(exc.retry_after)})
        return HTMLResponse(_answer_page(settings, answer.language, answer, None))

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    # ---- the staff console, behind its login (not served at all without one)

    if settings.staff_console:
        from gradio.utils import get_upload_folder

        from ui.staff import mount_console  # imports Gradio, so only when the console is served

        if mount_console(app, settings, holder.get):
            app.add_middleware(
                UploadPathGuard,
                prefix="/staff",
                upload_dirs=[get_upload_folder()],
                suffixes=(*SUPPORTED_SUFFIXES, ".jsonl"),  # documents, and eval sets
            )

    # Added last is outermost: a client over its rate is refused before its body is read; the
    # upload guard reads only a body the size limit (max_body_size) and the deadline let through.
    app.add_middleware(_PageAndApiHeaders, worker=uuid.uuid4().hex[:12])
    app.add_middleware(BodyDeadlineMiddleware, timeout_s=settings.body_timeout_s, limit_for=body_limit)
    app.add_middleware(RateLimitMiddleware, rules=rate_rules(settings))
    return app


_JSON_ENDPOINTS = frozenset({"/api/chat", "/api/chat/stream", "/api/feedback"})


class _PageAndApiHeaders:
    """JSON only into the API (415), and security and caching headers on every response.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` runs the app in a task group
    and so turns an error raised while reading the body (the 408 of the body deadline) into
    an exception group, which FastAPI then answers as a 400.
    """

    def __init__(self, app: Any, worker: str = "") -> None:
        self.app = app
        # Which worker process answered, as an opaque id (not the pid): for operators and the tests
        # of several workers, where the kernel hands each connection to any one of them.
        self.worker = worker

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        if method == "POST" and path in _JSON_ENDPOINTS:
            ctype = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"content-type"), "")
            if ctype.split(";")[0].strip().lower() != "application/json":
                await send_json(send, 415, "Send the request body as application/json.")
                return
        extra = dict(_SECURITY_HEADERS)
        if self.worker:
            extra["X-Worker"] = self.worker
        if path == "/" or path.startswith("/static"):
            extra["Content-Security-Policy"] = _PAGE_CSP
        if path.startswith("/api/") or (path == "/" and method == "POST"):
            extra["Cache-Control"] = "no-store"
        added = [(k.lower().encode(), v.encode()) for k, v in extra.items()]

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in added if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _answer_page(settings: Settings, language: str, answer: Answer | None, error: str | None) -> str:
    """A plain HTML answer page (no script) for the form posted without JavaScript."""

    def text(key: str) -> str:
        return html.escape(prompt(settings, language, key))

    parts = [f'<p class="form-error">{html.escape(error)}</p>'] if error else []
    if answer is not None:
        parts.append(f"<h2>{text('page_question')}</h2><p>{html.escape(answer.question)}</p>")
        parts += [f"<p>{html.escape(line)}</p>" for line in answer.answer.split("\n") if line.strip()]
        if answer.citations:
            items = []
            for c in answer.citations:
                label = html.escape(f"[{c.n}] {c.title}, {c.section}" + (f" ({c.period})" if c.period else ""))
                safe_url = c.url if c.url and re.match(r"^https?://", c.url) else None
                items.append(
                    f'<li><a href="{html.escape(safe_url)}">{label}</a></li>' if safe_url else f"<li>{label}</li>"
                )
            parts.append(f"<h2>{text('sources_heading')}</h2><ol>{''.join(items)}</ol>")
    body = "\n".join(parts)
    return (
        f'<!doctype html>\n<html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{text("page_title")}</title><link rel="stylesheet" href="/static/style.css"></head>'
        f'<body><main id="main" class="wrap"><h1>{text("page_title")}</h1>\n{body}\n'
        f'<p><a href="/">{text("page_ask_again")}</a></p></main></body></html>'
    )


def run(settings: Settings) -> None:
    """Serve the app with uvicorn on ``settings.host``:``settings.port``, with every limit in force,
    in ``settings.worker_count`` processes.

    Several processes, because an answer is CPU work in Python and in the embedding engine: one
    process's threads share one interpreter lock, processes use every core. Each worker loads its
    own model and reads the same index on disk (read only; a rebuilt index is picked up by each).
    The supervisor is uvicorn's own (as ``uvicorn --workers N``): it binds the port once, starts
    the workers with the settings (``worker_app``), restarts one that dies and stops them all.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    workers = settings.worker_count
    if workers > 1 and settings.staff_console:
        log.warning(
            "%d workers with the staff console: its sessions live in one process, so route /staff to a "
            "separate one-worker instance (docs/scaling.md) or set CARE_WORKERS=1",
            workers,
        )
    if workers == 1:
        uvicorn.Server(uvicorn_config(worker_app(settings), settings)).run()
        return
    # A worker answers the supervisor's health pings only once it has imported Chroma and FastAPI:
    # seconds on a busy machine, where uvicorn's default of 5 s would kill it as hung, again and again.
    config = uvicorn_config(
        functools.partial(worker_app, settings),
        settings,
        factory=True,
        workers=workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )
    Multiprocess(config, sockets=[config.bind_socket()]).run()


def worker_app(settings: Settings) -> FastAPI:
    """The app in one serving process (the factory each worker calls; a spawned worker starts
    with no logging set up, so it gets the command line's here)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("uvicorn.access").addFilter(DropQueryStrings())
    return create_app(settings)
