"""Run directories: fingerprinted, checkpointed, resumable runs of a builder's stages.

`run_builder(builder, run_dir, config)` is the entry point; see `rundir` for the layout,
`fingerprint` for what makes two runs the same, and `checkpoint` for how a stage survives
a kill.
"""

from __future__ import annotations

from dsbuild.runs.fingerprint import (
    EXCLUDED_KEYS,
    FINGERPRINT_VERSION,
    canonical_config,
    compute_fingerprint,
    diff_keys,
)
from dsbuild.runs.rundir import Mode, RunDir
from dsbuild.runs.runner import RunResult, StageSummary, run_builder

__all__ = [
    "EXCLUDED_KEYS",
    "FINGERPRINT_VERSION",
    "Mode",
    "RunDir",
    "RunResult",
    "StageSummary",
    "canonical_config",
    "compute_fingerprint",
    "diff_keys",
    "run_builder",
]
