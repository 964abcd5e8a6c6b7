"""Packaged prompt templates, one folder per group (`<group>/<name>.md`).

Loaded by `dsbuild.llm.prompts.load_prompts`; users override a template by putting a file of
the same name in their prompt override folder.
"""
