"""USD prices per million input/output tokens, to count cost per record and stop at a budget.

The built-in table holds approximate public list prices of common OpenAI models as of
`BUILTIN_PRICES_DATE`, for standard (non-batch, uncached-input) requests. Prices change:
users should give their own with a price file (`load_price_file`), which overrides the
table entry by entry. Local models (`local:*`) cost nothing.

Lookup order in `PriceTable.price_for(spec)` (case-insensitive; overrides and built-ins are
one table, overrides winning on equal keys):

1. the exact spec (`openai:gpt-4o-mini`, `http://gpu:8000/v1`, ...);
2. wildcard keys ending in `*` that the spec starts with (`local:*`), longest first;
3. the name without its `provider:` prefix (`gpt-4o-mini`);
4. the longest known name that the bare name extends with a `-` suffix, for dated or
   variant names (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`, never `gpt-4o`).

Batch API requests (`dsbuild.llm.batch_api`) cost `BATCH_DISCOUNT` (half) of the online
price by default; a price file entry may give its own `batch_input` / `batch_output`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsbuild.errors import ConfigError
from dsbuild.llm.types import Usage

__all__ = [
    "BATCH_DISCOUNT",
    "BUILTIN_PRICES",
    "BUILTIN_PRICES_DATE",
    "Price",
    "PriceTable",
    "batch_price",
    "cost_usd",
    "load_price_file",
    "split_spec",
]


@dataclass(frozen=True)
class Price:
    """USD per one million input (prompt) and output (completion) tokens."""

    input_per_m: float
    output_per_m: float
    # Batch API prices per 1M tokens when they are not BATCH_DISCOUNT times the above.
    batch_input_per_m: float | None = None
    batch_output_per_m: float | None = None


# The Batch API's price as a share of the online price (OpenAI: half).
BATCH_DISCOUNT = 0.5


def batch_price(price: Price | None, discount: float = BATCH_DISCOUNT) -> Price | None:
    """The price of a Batch API request: the entry's own batch prices, else `discount` times
    the online prices."""
    if price is None:
        return None
    return Price(
        price.batch_input_per_m
        if price.batch_input_per_m is not None
        else price.input_per_m * discount,
        price.batch_output_per_m
        if price.batch_output_per_m is not None
        else price.output_per_m * discount,
    )


BUILTIN_PRICES_DATE = "2025-08"

# Approximate list prices (USD per 1M tokens) as of BUILTIN_PRICES_DATE; override with a
# price file for real budgets. Explicit entries for costly variants keep the prefix rule
# from pricing them like their cheap base model.
BUILTIN_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-2024-05-13": Price(5.00, 15.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "o1": Price(15.00, 60.00),
    "o1-pro": Price(150.00, 600.00),
    "o3": Price(2.00, 8.00),
    "o3-pro": Price(20.00, 80.00),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-pro": Price(15.00, 120.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    "local:*": Price(0.0, 0.0),
}

_PROVIDER = re.compile(r"^([A-Za-z][\w.-]*):(?!//)(.+)$")


def split_spec(spec: str) -> tuple[str | None, str]:
    """`openai:gpt-4o` → ("openai", "gpt-4o"); a bare name or a URL has no provider."""
    m = _PROVIDER.match(spec.strip())
    return (m.group(1), m.group(2)) if m else (None, spec.strip())


def cost_usd(usage: Usage, price: Price) -> float:
    """The cost of one request's tokens at `price`."""
    return (
        usage.prompt_tokens * price.input_per_m + usage.completion_tokens * price.output_per_m
    ) / 1_000_000


class PriceTable:
    """The built-in prices with `overrides` on top; `price_for` resolves a model spec."""

    def __init__(
        self, overrides: Mapping[str, Price] | None = None, *, builtin: bool = True
    ) -> None:
        table = dict(BUILTIN_PRICES) if builtin else {}
        table.update(overrides or {})
        self._prices = {k.strip().lower(): v for k, v in table.items()}
        self._wildcards = sorted(
            (k for k in self._prices if k.endswith("*")), key=len, reverse=True
        )
        self._names = sorted(
            (k for k in self._prices if not k.endswith("*")), key=len, reverse=True
        )

    def price_for(self, model_spec: str) -> Price | None:
        """The price of `model_spec`, or None when no entry matches (cost unknown)."""
        spec = model_spec.strip().lower()
        if spec in self._prices:
            return self._prices[spec]
        for pattern in self._wildcards:
            if spec.startswith(pattern[:-1]):
                return self._prices[pattern]
        _, name = split_spec(spec)
        if name in self._prices:
            return self._prices[name]
        for known in self._names:  # longest first
            if name.startswith(known + "-"):
                return self._prices[known]
        return None

    def as_dict(self) -> dict[str, Price]:
        """Every entry (lower-cased keys), e.g. for a CLI listing."""
        return dict(sorted(self._prices.items()))

    def __contains__(self, model_spec: object) -> bool:
        return isinstance(model_spec, str) and self.price_for(model_spec) is not None


_BATCH_FIELDS = ("batch_input", "batch_output")


def load_price_file(path: Path) -> dict[str, Price]:
    """Read a YAML or JSON mapping `model: {input: <USD/1M>, output: <USD/1M>}`, each entry
    optionally with `batch_input` / `batch_output` (Batch API prices; default: half)."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"price file {path} cannot be read: {exc}",
            "check the path given for the price file",
            code="DSB101",
        ) from exc
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(
            f"price file {path} is not valid YAML/JSON{at}", "fix the syntax", code="DSB102"
        ) from exc
    if not isinstance(data, dict) or not data:
        raise ConfigError(
            f"price file {path} must be a non-empty mapping of model names",
            "write e.g. `gpt-4o-mini: {input: 0.15, output: 0.60}` (USD per 1M tokens)",
            code="DSB102",
        )
    prices: dict[str, Price] = {}
    for model, entry in data.items():
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(
                f"price file {path}: model name {model!r} is not a string",
                "quote the model name",
                code="DSB103",
            )
        if not isinstance(entry, dict):
            raise ConfigError(
                f"price file {path}: model '{model}' must map to {{input, output}}, got {entry!r}",
                "give both prices in USD per 1M tokens",
                code="DSB103",
            )
        extra = sorted(set(map(str, entry)) - {"input", "output", *_BATCH_FIELDS})
        if extra:
            raise ConfigError(
                f"price file {path}: model '{model}' has unknown field '{extra[0]}'",
                "use only `input` and `output` (and `batch_input`, `batch_output`)",
                code="DSB104",
            )
        values = []
        for field in ("input", "output", *_BATCH_FIELDS):
            value = entry.get(field)
            if field in _BATCH_FIELDS and value is None:
                values.append(None)
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or value < 0
                or value != value
                or value == float("inf")
            ):
                raise ConfigError(
                    f"price file {path}: model '{model}' field '{field}' must be a "
                    f"number >= 0 (USD per 1M tokens), got {value!r}",
                    f"set `{field}` for '{model}'",
                    code="DSB103",
                )
            values.append(float(value))
        prices[model.strip()] = Price(*values)  # type: ignore[arg-type]
    return prices
