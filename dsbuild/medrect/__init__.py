"""MedRECT and MEDEC without an LLM: file formats and converters, numbered sentences and
record checks, source-question import (JMLE, MedQA), for the builder and the CLI.

Import the submodules (`dsbuild.medrect.formats`, `.sentences`, `.jmle`); this package
imports nothing heavy itself.
"""

__all__ = ["MEDRECT_KEYS"]

MEDRECT_KEYS = (
    "sample_id",
    "sentences",
    "error_flag",
    "error_type",
    "error_sentence_id",
    "error_sentence",
    "corrected_sentence",
    "corrected_text",
)
"""The fields of a MedRECT record, in the release's order."""
