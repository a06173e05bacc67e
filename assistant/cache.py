"""The answer cache: the same question, asked the same way, is answered once per index version.

Public entry point: :class:`AnswerCache`.

Many citizens ask the same short questions ("demens?", "hvad koster hjemmehjælp?").
The key is the question after personal data is removed and case and spacing are
folded, the answer language asked for, the municipality chosen on the page and
the index version, so a rebuilt index never serves an old answer. A question in
which personal data was found is never cached, and neither is a follow-up (its
answer depends on the conversation). Values hold the answer's content, never
the question.

Several worker processes each keep their own cache (an answer is small and cheap to
make again; sharing one would put a lock or a server in every answer's path). Staff
clearing the cache must reach every worker, so a clear also raises a generation
number in a small shared file, and every worker compares that file's ``stat``
(a microsecond or two, no read) with what it saw last before it uses its cache.

Why our own small class: ``functools.lru_cache`` cannot be cleared per index
version or emptied by staff from another thread, and ``cachetools`` adds a
dependency for twenty lines.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from assistant.privacy import redact


def cache_key(question: str, *parts: Hashable) -> tuple[Hashable, ...] | None:
    """The key for a question, or None when it must not be cached (personal data in it)."""
    redacted, matches = redact(question or "")
    if matches:
        return None
    return (re.sub(r"\s+", " ", redacted).strip().casefold(), *parts)


class AnswerCache:
    """A thread-safe least-recently-used cache of answers, emptied in every process by a shared generation file.

    Args:
        size: how many answers to keep; 0 turns the cache off.
        generation_file: the file :meth:`clear` raises and every instance watches (None: this process only).
    """

    def __init__(self, size: int, generation_file: Path | None = None) -> None:
        self.size = size
        self.generation_file = generation_file
        self._items: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._seen = _stamp(generation_file)
        self._clears = 0  # local clears (the generation a put must still see)
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.size > 0

    def generation(self) -> tuple[Any, ...]:
        """The generation now; give it to :meth:`put` with an answer made after reading it, so an
        answer started before a clear (in this or another process) is not stored after it."""
        with self._lock:
            self._sync()
            return (self._seen, self._clears)

    def get(self, key: tuple[Hashable, ...] | None) -> Any | None:
        if key is None or not self.enabled:
            return None
        with self._lock:
            self._sync()
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: tuple[Hashable, ...] | None, value: Any, generation: tuple[Any, ...] | None = None) -> None:
        if key is None or not self.enabled:
            return
        with self._lock:
            self._sync()
            if generation is not None and generation != (self._seen, self._clears):
                return
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> int:
        """Empty the cache here and, through the generation file, in every process (staff, after
        editing texts); returns how many answers this process dropped."""
        with self._lock:
            dropped = len(self._items)
            self._items.clear()
            self._clears += 1
            if self.generation_file is not None:
                _raise_generation(self.generation_file)
                self._seen = _stamp(self.generation_file)
            return dropped

    def _sync(self) -> None:
        """Under the lock: empty this process's cache if another process raised the generation."""
        if self.generation_file is None:
            return
        stamp = _stamp(self.generation_file)
        if stamp != self._seen:
            self._items.clear()
            self._seen = stamp

    def __len__(self) -> int:
        return len(self._items)


def _stamp(path: Path | None) -> tuple[int, int, int] | None:
    """What identifies one write of the file: a replaced file has a new inode even within one clock tick."""
    if path is None:
        return None
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def _raise_generation(path: Path) -> None:
    """Write the next generation number, atomically (a new file renamed over the old one)."""
    try:
        current = int(path.read_text(encoding="utf-8").strip() or 0)
    except (FileNotFoundError, ValueError):
        current = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f"{current + 1}\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
