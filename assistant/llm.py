"""Optional LLM answer mode (``CARE_ANSWER_MODE=llm``) through LangChain.

The model writes from the same numbered passages the composed answer cites.
Its text is accepted only if every statement line carries a citation marker
that exists; otherwise the caller falls back to the composed answer, so a
statement without a source never reaches a citizen.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr

from assistant.config import Settings
from assistant.contract import Citation


class UnsupportedLLMAnswer(ValueError):
    """The model's answer cited nothing, or cited a passage that does not exist."""


def chat_model(settings: Settings) -> Any:
    """The configured OpenAI-compatible chat model (LangChain's ``ChatOpenAI``)."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key or SecretStr("not-set"),
        timeout=settings.llm_timeout_s,
        max_retries=0,
        temperature=0,
    )


def write_answer(settings: Settings, system_prompt: str, question: str, citations: list[Citation]) -> str:
    """Ask the configured chat model for an answer grounded in the numbered passages."""
    from langchain_core.messages import HumanMessage, SystemMessage

    model = chat_model(settings)
    passages = "\n\n".join(f"[{c.n}] {c.title} — {c.section} — {c.period or ''}\n{c.text}" for c in citations)
    reply = model.invoke(
        [SystemMessage(content=system_prompt), HumanMessage(content=f"Passages:\n{passages}\n\nQuestion: {question}")]
    )
    text = str(reply.content).strip()
    check_grounded(text, {c.n for c in citations})
    return text


def check_grounded(text: str, numbers: set[int]) -> None:
    """Every statement line must cite, and only passages that exist.

    Lines that only introduce what follows (ending in ':') need no marker.
    """
    statement_lines = [line for line in text.splitlines() if line.strip() and not line.rstrip().endswith(":")]
    if not statement_lines:
        raise UnsupportedLLMAnswer("the model's answer is empty")
    for line in statement_lines:
        markers = {int(m) for m in re.findall(r"\[(\d+)\]", line)}
        if not markers or not markers <= numbers:
            raise UnsupportedLLMAnswer("a line of the model's answer cites no passage, or one that does not exist")


LANGUAGE_NAMES = {"da": "Danish", "sv": "Swedish", "nb": "Norwegian Bokmål", "en": "English"}
TRANSLATION_INSTRUCTIONS = (
    "Translate the municipal care-plan text from {source} into {target} for older citizens and their relatives. "
    "Be faithful: add nothing, drop nothing, keep every number, year, period, name and place exactly, keep "
    "names of municipalities, institutions and programmes in their original form. Reply with the translation only."
)


def draft_translation(settings: Settings, text: str, source: str, target: str) -> str:
    """One unit drafted by the configured model; it is stored as ``draft`` until staff approve it.

    Raises:
        UnsupportedLLMAnswer: the draft is empty or loses or adds a number or name.
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    from assistant.translations import fact_problems

    instructions = TRANSLATION_INSTRUCTIONS.format(source=LANGUAGE_NAMES[source], target=LANGUAGE_NAMES[target])
    reply = chat_model(settings).invoke([SystemMessage(content=instructions), HumanMessage(content=text)])
    draft = str(reply.content).strip()
    problems = fact_problems(text, draft) if draft else ["empty"]
    if problems:
        raise UnsupportedLLMAnswer(f"the draft was not faithful: {'; '.join(problems)}")
    return draft
