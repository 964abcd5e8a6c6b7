"""dsbuild: build multilingual NLP datasets the way the papers did, reproducibly and at scale.

The engine lives here (errors, configuration, runs, reading and validating records); the
dataset builders, record schemas and the command line are the subpackages
`dsbuild.builders`, `dsbuild.schemas` and `dsbuild.cli`. Nothing heavy is imported at
package import time, so `dsbuild --help` stays instant.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
