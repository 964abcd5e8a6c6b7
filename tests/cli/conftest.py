from __future__ import annotations

# The `cli` fixture (run `dsbuild ARGS...` in-process) lives in tests/conftest.py.
