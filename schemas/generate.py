"""Write the JSON Schema file of every record format: `python -m dsbuild.schemas.generate`.

The files (`json/<format>.schema.json`) describe structure only (fields, types, ranges);
cross-field rules such as spans lying inside their text are enforced by the pydantic models.
Output is deterministic (sorted keys, two-space indent, trailing newline) so the files can
be committed and a test can tell when they are stale. `--check` exits 1 instead of writing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import FORMATS

__all__ = ["JSON_DIR", "render_schemas", "stale_schemas", "write_schemas"]

JSON_DIR = Path(__file__).resolve().parent / "json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def render_schemas() -> dict[str, str]:
    """File name -> JSON Schema text, for every format."""
    out: dict[str, str] = {}
    for name, spec in sorted(FORMATS.items()):
        schema = spec.model.model_json_schema(by_alias=True, mode="validation")
        schema["$schema"] = DRAFT
        schema["x-dsbuild"] = {"format": name, "dataset": spec.dataset, "id_field": spec.id_field}
        schema.setdefault("description", spec.description)
        out[f"{name}.schema.json"] = (
            json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        )
    return out


def stale_schemas(directory: Path = JSON_DIR) -> list[str]:
    """Names of schema files that are missing or differ from what the models generate now."""
    stale = []
    for filename, text in render_schemas().items():
        path = directory / filename
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(filename)
    return stale


def write_schemas(directory: Path = JSON_DIR) -> list[Path]:
    """Write every schema file into `directory`; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, text in render_schemas().items():
        path = directory / filename
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dsbuild.schemas.generate", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=JSON_DIR,
        help="folder to write into (default: the package's json/)",
    )
    parser.add_argument(
        "--check", action="store_true", help="only check; exit 1 when a file is stale"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_schemas(args.out)
        for name in stale:
            print(f"stale: {args.out / name}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_schemas(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
