"""Prompt templates as Markdown files that users can read, list and override.

Packaged templates live in `dsbuild/prompts/<group>/<name>.md`. A file is YAML front
matter, then a body::

    ---
    id: llm/echo              # by convention <group>/<name>; goes into provenance
    version: 1
    description: Repeat a text back.
    inputs: [text]            # the placeholders render() needs
    response_schema:          # optional JSON Schema of the expected JSON answer
      type: object
    ---
    ## system
    You repeat text. Answer as {{"echo": "..."}}.

    ## user
    {text}

`## system`, `## user` and `## assistant` headings start messages, in file order; a body
without such headings is one user message. Placeholders are `str.format` fields (`{text}`);
literal braces are doubled (`{{`, `}}`). Every placeholder must be declared in `inputs`.

A user's `override_dir/<group>/<name>.md`, else `override_dir/<name>.md`, replaces the
packaged template of the same name; it may use fewer inputs than the packaged one, never
others (the builder passes only those). A template's `hash` is the sha256 of its file
bytes, so provenance tells which text produced a record.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsbuild.errors import ConfigError

__all__ = [
    "PromptTemplate",
    "list_prompts",
    "load_prompts",
    "load_template",
    "package_prompts_dir",
    "parse_template",
]

_KEYS = {"id", "version", "description", "inputs", "response_schema"}
_ROLES = ("system", "user", "assistant")
_HEADING = re.compile(r"^##[ \t]+(system|user|assistant)[ \t]*$", re.I | re.M)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class PromptTemplate:
    """One parsed template; `render(**values)` gives the chat messages."""

    id: str
    version: str
    path: Path
    hash: str  # sha256 hex of the file bytes
    inputs: tuple[str, ...]
    parts: tuple[tuple[str, str], ...]  # (role, format string) in message order
    description: str = ""
    response_schema: dict[str, Any] | None = None
    overridden: bool = False
    name: str = ""  # the file stem the template is known by

    def render(self, **values: Any) -> list[dict[str, str]]:
        """The messages with `values` filled in; values not among `inputs` are ignored."""
        missing = [name for name in self.inputs if name not in values]
        if missing:
            raise ConfigError(
                f"prompt template '{self.id}' ({self.path}) needs input '{missing[0]}', "
                f"which was not given",
                f"pass {', '.join(missing)} to render(), or drop the placeholder from the template",
                code="DSB103",
            )
        known = {name: values[name] for name in self.inputs}
        return [{"role": role, "content": text.format_map(known)} for role, text in self.parts]

    def stage_version(self, base: str = "1") -> str:
        """A stage version that changes with this template's text (`1+<hash>`), so a run is
        never resumed with an edited prompt."""
        return f"{base}+{self.hash[:12]}"

    def response_format(self) -> dict[str, Any] | None:
        """An OpenAI `response_format` asking for `response_schema`, or None without one."""
        if self.response_schema is None:
            return None
        name = re.sub(r"[^A-Za-z0-9_-]", "_", self.id)[:64]
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": self.response_schema},
        }


def package_prompts_dir() -> Path:
    """The folder of the packaged templates (`dsbuild/prompts`)."""
    from importlib.resources import files

    return Path(str(files("dsbuild.prompts")))


def _bad(path: Path, what: str, fix: str, code: str = "DSB102") -> ConfigError:
    return ConfigError(f"prompt template {path}: {what}", fix, code=code)


def parse_template(
    path: Path, data: bytes, *, name: str | None = None, overridden: bool = False
) -> PromptTemplate:
    """Parse a template file's bytes; any defect is a one-line ConfigError naming `path`."""
    import yaml

    try:
        text = data.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise _bad(
            path, f"is not UTF-8 ({exc.reason} at byte {exc.start})", "save the file as UTF-8"
        ) from exc
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        raise _bad(
            path,
            "does not start with a `---` front matter line",
            "begin the file with `---`, the id/version/inputs keys, then `---`",
        )
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
    if end is None:
        raise _bad(
            path,
            "front matter has no closing `---` line",
            "add a `---` line after the front matter",
        )
    try:
        meta = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise _bad(
            path,
            f"front matter is not valid YAML{at} ({problem})",
            "fix the YAML between the `---` lines",
        ) from exc
    if not isinstance(meta, dict):
        raise _bad(
            path,
            "front matter is not a mapping",
            "write `key: value` lines (id, version, inputs, ...)",
        )
    unknown = sorted(set(map(str, meta)) - _KEYS)
    if unknown:
        raise _bad(
            path,
            f"unknown front matter key '{unknown[0]}'",
            f"use only {', '.join(sorted(_KEYS))}",
            code="DSB104",
        )
    for key in ("id", "version"):
        if key not in meta:
            raise _bad(path, f"front matter lacks `{key}`", f"add `{key}:`", code="DSB103")
    tid, version = meta["id"], meta["version"]
    if not isinstance(tid, str) or not tid.strip():
        raise _bad(
            path,
            f"`id` must be a non-empty string, got {tid!r}",
            "write e.g. `id: group/name`",
            code="DSB103",
        )
    if (
        isinstance(version, bool)
        or not isinstance(version, (str, int, float))
        or not str(version).strip()
    ):
        raise _bad(
            path,
            f"`version` must be a number or string, got {version!r}",
            "write e.g. `version: 1`",
            code="DSB103",
        )
    description = meta.get("description") or ""
    if not isinstance(description, str):
        raise _bad(path, "`description` must be a string", "quote it", code="DSB103")
    inputs = meta.get("inputs") or []
    if not isinstance(inputs, list) or not all(
        isinstance(i, str) and _NAME.match(i) for i in inputs
    ):
        raise _bad(
            path,
            f"`inputs` must be a list of identifiers, got {inputs!r}",
            "write e.g. `inputs: [text, language]`",
            code="DSB103",
        )
    if len(set(inputs)) != len(inputs):
        raise _bad(path, "`inputs` lists a name twice", "list each input once", code="DSB103")
    schema = meta.get("response_schema")
    if schema is not None:
        _check_schema(path, schema)

    parts = _split_body(path, "\n".join(lines[end + 1 :]))
    for role, body in parts:
        for placeholder in _placeholders(path, role, body):
            if placeholder not in inputs:
                raise _bad(
                    path,
                    f"placeholder '{{{placeholder}}}' in the {role} section is "
                    "not declared in `inputs`",
                    f"add {placeholder} to `inputs`, or double the braces for literal "
                    "text ({{ }})",
                    code="DSB103",
                )
    return PromptTemplate(
        id=tid.strip(),
        version=str(version).strip(),
        path=path,
        hash=hashlib.sha256(data).hexdigest(),
        inputs=tuple(inputs),
        parts=tuple(parts),
        description=description.strip(),
        response_schema=schema,
        overridden=overridden,
        name=name or path.stem,
    )


def _check_schema(path: Path, schema: Any) -> None:
    """`response_schema` must be a mapping and, when jsonschema is installed, a valid schema."""
    if not isinstance(schema, dict):
        raise _bad(
            path,
            "`response_schema` must be a JSON Schema mapping",
            "write e.g. `response_schema: {type: object, properties: {...}}`",
            code="DSB103",
        )
    try:
        import jsonschema
    except ImportError:  # optional: the shape check above still runs
        return
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(map(str, exc.path)) or "top level"
        raise _bad(
            path,
            f"`response_schema` is not a valid JSON Schema at {where}: {exc.message}",
            "fix the schema",
            code="DSB103",
        ) from exc


def _split_body(path: Path, body: str) -> list[tuple[str, str]]:
    """(role, text) per `## role` section; a body without headings is one user message."""
    headings = list(_HEADING.finditer(body))
    if not headings:
        text = body.strip()
        if not text:
            raise _bad(
                path,
                "has no prompt text after the front matter",
                "add `## system` / `## user` sections or plain user text",
                code="DSB103",
            )
        return [("user", text)]
    if body[: headings[0].start()].strip():
        raise _bad(
            path,
            "has text before its first `## system`/`## user` heading",
            "move that text into a section",
            code="DSB103",
        )
    parts = []
    for i, m in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(body)
        role = m.group(1).lower()
        text = body[m.end() : end].strip()
        if not text:
            raise _bad(
                path, f"section `## {role}` is empty", "write its text or remove it", code="DSB103"
            )
        parts.append((role, text))
    return parts


def _placeholders(path: Path, role: str, text: str) -> list[str]:
    """The input names used by `{...}` fields; unbalanced braces are an error."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise _bad(
            path,
            f"the {role} section has a stray brace ({exc})",
            "double literal braces: {{ and }}",
            code="DSB103",
        ) from exc
    names = []
    for f in fields:
        root = re.split(r"[.\[]", f, maxsplit=1)[0]
        if not _NAME.match(root):
            raise _bad(
                path,
                f"placeholder '{{{f}}}' in the {role} section is not a name",
                "use {name} placeholders; double literal braces: {{ and }}",
                code="DSB103",
            )
        names.append(root)
    return names


def load_template(
    path: Path, *, name: str | None = None, overridden: bool = False
) -> PromptTemplate:
    """Read and parse one template file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"prompt template {path} cannot be read: {exc.strerror or exc}",
            "check the file exists and is readable",
            code="DSB101",
        ) from exc
    return parse_template(path, data, name=name, overridden=overridden)


def load_prompts(
    group: str, override_dir: Path | None = None, package_root: Path | None = None
) -> dict[str, PromptTemplate]:
    """The templates of `group` by name, user overrides applied (see the module docstring).

    `package_root` replaces the packaged `dsbuild/prompts` folder (for tests).
    """
    if not _GROUP.match(group or ""):
        raise ConfigError(
            f"prompt group {group!r} is not a valid name",
            "use a folder name like `psiloqa`",
            code="DSB103",
        )
    root = Path(package_root) if package_root is not None else package_prompts_dir()
    folder = root / group
    if not folder.is_dir():
        known = (
            sorted(
                p.name
                for p in root.iterdir()
                if p.is_dir() and _GROUP.match(p.name) and not p.name.startswith(("_", "."))
            )
            if root.is_dir()
            else []
        )
        raise ConfigError(
            f"no prompt group '{group}' in {root}",
            f"use one of: {', '.join(known) or '(none)'}",
            code="DSB101",
        )
    templates = {p.stem: load_template(p, name=p.stem) for p in sorted(folder.glob("*.md"))}
    if override_dir is None:
        return templates
    override_dir = Path(override_dir).expanduser()
    if not override_dir.is_dir():
        raise ConfigError(
            f"prompt override folder {override_dir} does not exist",
            "create it or fix the path given for prompt overrides",
            code="DSB101",
        )
    grouped = override_dir / group
    if grouped.is_dir():
        for p in sorted(grouped.glob("*.md")):
            if p.stem not in templates:
                raise ConfigError(
                    f"prompt override {p} matches no template of group '{group}'",
                    f"name it after one of: {', '.join(sorted(templates)) or '(none)'}",
                    code="DSB101",
                )
    for name, packaged in list(templates.items()):
        for candidate in (grouped / f"{name}.md", override_dir / f"{name}.md"):
            if candidate.is_file():
                user = load_template(candidate, name=name, overridden=True)
                extra = [i for i in user.inputs if i not in packaged.inputs]
                if extra:
                    raise ConfigError(
                        f"prompt override {candidate} uses input '{extra[0]}', which "
                        f"'{packaged.id}' does not provide",
                        f"use only {', '.join(packaged.inputs) or 'no inputs'}",
                        code="DSB103",
                    )
                templates[name] = user
                break
    return templates


def list_prompts(
    group: str, override_dir: Path | None = None, package_root: Path | None = None
) -> list[dict[str, Any]]:
    """One row per template of `group` for a CLI listing: name, id, version, short hash,
    path and whether a user file overrides it."""
    rows = []
    for name, t in sorted(load_prompts(group, override_dir, package_root).items()):
        rows.append(
            {
                "name": name,
                "id": t.id,
                "version": t.version,
                "hash": t.hash[:12],
                "path": str(t.path),
                "overridden": t.overridden,
            }
        )
    return rows
