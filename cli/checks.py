"""Checks on what the command line is given: numbers that must be finite and in range (no
nan, no inf), and the test double's models, which only tests may name."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

import click

__all__ = ["AMOUNT", "COUNT", "RATE", "refuse_test_models"]


class FiniteFloat(click.ParamType):
    """A finite float at or above `low` (above it when `open_low`)."""

    name = "number"

    def __init__(self, low: float = 0.0, *, open_low: bool = False) -> None:
        self.low, self.open_low = low, open_low

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if number < self.low or (self.open_low and number == self.low):
            self.fail(
                f"{value} is not {'above' if self.open_low else 'at least'} {self.low:g}",
                param,
                ctx,
            )
        return number


AMOUNT = FiniteFloat(0.0)
"""A budget in USD: 0 or more."""
RATE = FiniteFloat(0.0, open_low=True)
"""A rate (requests or tokens per minute): above 0."""
COUNT = click.IntRange(min=0)
"""A count: 0 or more."""


def refuse_test_models(specs: Iterable[str | None]) -> None:
    """`fake:` models are the test double (`dsbuild.testing`): from the command line only
    with DSBUILD_TESTING=1 (the Python API may always use them)."""
    if os.environ.get("DSBUILD_TESTING") == "1":
        import dsbuild.testing.fake_llm  # noqa: F401 - registers the fake: provider

        return
    for spec in specs:
        if isinstance(spec, str) and spec.split("@", 1)[0].startswith("fake:"):
            from dsbuild.errors import ConfigError

            raise ConfigError(
                f"model {spec} is the test double, not a real model",
                "name a real model (e.g. local:smollm2, openai:gpt-4o-mini); "
                "tests set DSBUILD_TESTING=1",
                code="DSB103",
            )
