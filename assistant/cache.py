"""The answer cache: the same question, asked the same way, is answered once per index version.

Public entry point: :class:`AnswerCache`.

Many citizens ask the same short questions ("demens?", "hvad koster hjemmehjælp?").
The key is the question after personal data is removed and case and spacing are
folded, the answer language asked for, the municipality chosen on the page and
the index version, so a rebuilt index never serves an old answer. A question in
which personal data was found is never cached, and neither is a follow-up (its
answer depends on the conversation). Values hold the answer's content, never
the question.

Why our own small class: ``functools.lru_cache`` cannot be cleared per index
version or emptied by staff from another thread, and ``cachetools`` adds a
dependency for twenty lines.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from assistant.privacy import redact


def cache_key(question: str, *parts: Hashable) -> tuple[Hashable, ...] | None:
    """The key for a question, or None when it must not be cached (personal data in it)."""
    redacted, matches = redact(question or "")
    if matches:
        return None
    return (re.sub(r"\s+", " ", redacted).strip().casefold(), *parts)


class AnswerCache:
    """A thread-safe least-recently-used cache of answers.

    Args:
        size: how many answers to keep; 0 turns the cache off.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.size > 0

    def get(self, key: tuple[Hashable, ...] | None) -> Any | None:
        if key is None or not self.enabled:
            return None
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: tuple[Hashable, ...] | None, value: Any) -> None:
        if key is None or not self.enabled:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> int:
        """Empty the cache (staff, after editing texts); returns how many answers were dropped."""
        with self._lock:
            dropped = len(self._items)
            self._items.clear()
            return dropped

    def __len__(self) -> int:
        return len(self._items)
