"""Helpers of the test dataset's tests (a fake LLM that defines terms)."""

from __future__ import annotations

from dsbuild.testing import FakeLLM


class Definer(FakeLLM):
    """Answers 'Define the term X' with a fixed definition; one term gets a long answer."""

    def _deterministic(self, payload):
        term = payload["messages"][-1]["content"].split("'")[1]
        if term == "quorum":
            return "the smallest number of members " + "who must be present " * 10
        return f"A {term} is a thing people name."
