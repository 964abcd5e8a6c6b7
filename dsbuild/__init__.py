"""dsbuild: build multilingual NLP datasets the way the papers did, reproducibly and at scale.

The engine lives here (errors, configuration, runs, reading and validating records); the
dataset builders, record schemas and the command line are the subpackages
`dsbuild.builders`, `dsbuild.schemas` and `dsbuild.cli`. Nothing heavy is imported at
package import time, so `dsbuild --help` stays instant.

The Python API (`dsbuild.api`): `dsbuild.build(dataset, **settings) -> Run`,
`dsbuild.open_run(path)`, `dsbuild.validate(path)`, `dsbuild.export(run, out)`.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Run", "__version__", "build", "export", "open_run", "validate"]

_API = frozenset({"Run", "build", "export", "open_run", "validate"})


def __getattr__(name: str):
    """The Python API (`dsbuild.api`), imported on first use so `dsbuild --help` stays fast."""
    if name in _API:
        from dsbuild import api

        return getattr(api, name)
    raise AttributeError(f"module 'dsbuild' has no attribute {name!r}")
