"""MedRECT and MEDEC without an LLM: file formats and converters, numbered sentences and
record checks, source-question import (JMLE, MedQA), for the builder and the CLI.

Import the submodules (`dsbuild.medrect.formats`, `.sentences`, `.jmle`); this package
imports nothing heavy itself.
"""
