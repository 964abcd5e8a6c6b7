"""Imports point one way (DESIGN.md section 8), and every module imports on its own.

Layer order, imports only pointing left (to the same or a lower layer):

    primitives <- records <- runs <- llm <- sources <- gates <- dataset helpers
    <- builders <- shared front layers (export, labelstudio, stats) <- api <- cli

`LAYERS` assigns every top-level module and package of `dsbuild` (and `dsbuild.schemas`,
`dsbuild.builders`, `dsbuild.cli`, `dsbuild.data_cards`, which install from `schemas/`,
`builders/`, `cli/`, `data_cards/`) to a layer; a new top-level module must be added there.
The import graph is read with `ast`: module-level and function-level imports alike (imports
under `if TYPE_CHECKING:` never run and are not counted; nor are lazy `"module:attribute"`
hook references, which are resolved by the registry). `KNOWN` lists the violations that
are still to fix, each with its fix; any other violation fails, and so does a `KNOWN` entry
that is no longer found (remove it).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

ORDER = (
    "primitives",
    "records",
    "runs",
    "llm",
    "sources",
    "gates",
    "kit",
    "datasets",
    "builders",
    "front",
    "api",
    "cli",
)

LAYERS = {
    # primitives: no dsbuild imports but each other
    "dsbuild": "primitives",  # the root package: __version__, and the lazy API facade below
    "dsbuild.errors": "primitives",
    "dsbuild.spans": "primitives",
    "dsbuild.readers": "primitives",
    "dsbuild.quirks": "primitives",
    "dsbuild.redact": "primitives",
    "dsbuild.compression": "primitives",
    "dsbuild.progress": "primitives",
    "dsbuild.sentences": "primitives",
    "dsbuild.languages": "primitives",
    "dsbuild.codeswitch": "primitives",
    "dsbuild.masking": "primitives",
    "dsbuild.config": "primitives",
    "dsbuild.builder_options": "primitives",
    "dsbuild.canonical": "primitives",
    "dsbuild.outcomes": "primitives",
    "dsbuild.tables": "primitives",
    "dsbuild.span_labels": "primitives",
    "dsbuild.prompts": "primitives",  # template files
    "dsbuild.samples": "primitives",  # sample files
    "dsbuild.data_cards": "primitives",  # card templates
    # The data crossing the LLM engine's boundary (requests, replies, results) is vocabulary
    # that tests doubles and stages share; it should need primitives only (see KNOWN).
    "dsbuild.llm.types": "primitives",
    # records: the record formats and their validation
    "dsbuild.schemas": "records",
    "dsbuild.validation": "records",
    # runs: the builder contract and the engine that runs it
    "dsbuild.stages": "runs",
    "dsbuild.runs": "runs",
    "dsbuild.llm": "llm",
    # sources: where texts come from (they use llm's retry and cache helpers)
    "dsbuild.wiki": "sources",
    "dsbuild.wikidata": "sources",
    "dsbuild.gates": "gates",
    "dsbuild.metrics": "gates",  # agreement and correction metrics, shared by datasets
    "dsbuild.psiloqa": "datasets",
    "dsbuild.entitycs": "datasets",
    "dsbuild.medrect": "datasets",
    "dsbuild.cultural": "datasets",
    "dsbuild.builders": "builders",
    "dsbuild.builder_kit": "kit",  # helpers every builder and its dataset helpers use
    "dsbuild.model_run": "kit",  # a model over a file's records on the runner (predict, rate)
    "dsbuild.datasets": "builders",  # the registry of specs: builders register into it
    "dsbuild.testing": "builders",  # test doubles: a toy builder, a fake LLM backend
    # the export to the Hugging Face Hub (not `export`: dsbuild.export() is the API)
    "dsbuild.hub": "front",
    "dsbuild.labelstudio": "front",
    "dsbuild.stats": "front",
    # A dataset's hooks for the export and annotation layers are plugins of those layers:
    # they use the layer's own code (tasks, results, dataset cards), and only the spec's
    # lazy references ("dsbuild.psiloqa.export:EXPORT") reach them, never an import.
    "dsbuild.psiloqa.export": "front",
    "dsbuild.psiloqa.rounds": "front",
    "dsbuild.entitycs.export": "front",
    "dsbuild.entitycs.rounds": "front",
    "dsbuild.medrect.export": "front",
    "dsbuild.medrect.rounds": "front",
    "dsbuild.cultural.export": "front",
    "dsbuild.cultural.rounds": "front",
    "dsbuild.api": "api",
    "dsbuild.cli": "cli",
}

# Imports that are allowed although they point right: (importer, imported).
EXEMPT = {
    # PEP 562 facade: `dsbuild.build(...)` imports the API on first use; importing dsbuild
    # itself imports nothing.
    ("dsbuild", "dsbuild.api"),
}

# Violations still to fix: (importer, imported). Fix, then delete the line.
KNOWN: set[tuple[str, str]] = set()

# Mutual imports (function-level ones included) still to break: a set of modules each.
KNOWN_CYCLES: list[set[str]] = []


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    module_level: bool


def _package_dirs() -> dict[str, Path]:
    """Package name -> folder, from pyproject's package-dir (dsbuild.cli is cli/, ...)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    dirs = config["tool"]["setuptools"]["package-dir"]
    return {name: REPO / folder for name, folder in dirs.items()}


def _modules() -> dict[str, Path]:
    """Every module of the installed package, by dotted name."""
    dirs = _package_dirs()
    mapped = {path.resolve() for name, path in dirs.items() if name != "dsbuild"}
    out: dict[str, Path] = {}
    for prefix, root in dirs.items():
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            if prefix == "dsbuild" and any(p.resolve() in mapped for p in path.parents):
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if not all(
                (root.joinpath(*parts[:i]) / "__init__.py").is_file() for i in range(len(parts))
            ):
                continue  # a script in a data folder, not a module
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([prefix, *parts])] = path
    return out


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return "TYPE_CHECKING" in ast.unparse(test)


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    out = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        out.append(sub if sub in MODULES else target)
    return out


def imports_of(module: str) -> list[Import]:
    """The dsbuild modules `module` imports (outside `if TYPE_CHECKING:`)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(node: ast.AST, module_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.orelse:
                    visit_one(stmt, module_level)
                continue
            visit_one(child, module_level)

    def visit_one(node: ast.AST, module_level: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in _targets(module, is_package, node):
                if target == "dsbuild" or target.startswith("dsbuild."):
                    found.append(Import(module, _known_module(target), node.lineno, module_level))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            visit(node, False)
        else:
            visit(node, module_level)

    visit(tree, True)
    return found


def _known_module(name: str) -> str:
    """`name`, or its longest prefix that is a module (`from dsbuild.x import attr`)."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def layer_of(module: str) -> str | None:
    name = module
    while True:
        if name in LAYERS:
            return LAYERS[name]
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]


def all_imports() -> Iterator[Import]:
    for module in MODULES:
        yield from imports_of(module)


def violations() -> list[tuple[Import, str, str]]:
    """Imports pointing to a higher layer: one per (importer, imported, line)."""
    out: dict[tuple[str, str, int], tuple[Import, str, str]] = {}
    for imp in all_imports():
        src, dst = layer_of(imp.importer), layer_of(imp.imported)
        if src is None or dst is None or ORDER.index(dst) <= ORDER.index(src):
            continue
        if (imp.importer, imp.imported) not in EXEMPT:
            out.setdefault((imp.importer, imp.imported, imp.line), (imp, src, dst))
    return list(out.values())


def _describe(imp: Import, src: str, dst: str) -> str:
    where = "module level" if imp.module_level else "in a function"
    return (
        f"{MODULES[imp.importer].relative_to(REPO)}:{imp.line}: {imp.importer} ({src}) imports "
        f"{imp.imported} ({dst}) {where}"
    )


def _cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[set[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(component)
    return out


def _graph(*, module_level_only: bool) -> dict[str, set[str]]:
    """Importer -> imported. Importing `a.b.c` also runs `a.b` and `a` (their __init__),
    unless the importer is inside them (a package importing its own parts is no cycle)."""
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in all_imports():
        if module_level_only and not imp.module_level:
            continue
        if imp.imported == imp.importer or (imp.importer, imp.imported) in EXEMPT:
            continue
        edges[imp.importer].add(imp.imported)
        parts = imp.imported.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent in MODULES and not (
                imp.importer == parent or imp.importer.startswith(parent + ".")
            ):
                edges[imp.importer].add(parent)
    return edges


# ---------------------------------------------------------------------------------------


def test_every_module_has_a_layer() -> None:
    missing = sorted(m for m in MODULES if layer_of(m) is None)
    assert not missing, f"add these to LAYERS in {Path(__file__).name}: {missing}"
    assert set(LAYERS.values()) <= set(ORDER)


def test_imports_point_one_way() -> None:
    found = violations()
    new = [v for v in found if (v[0].importer, v[0].imported) not in KNOWN]
    gone = KNOWN - {(v[0].importer, v[0].imported) for v in found}
    message = "\n".join(
        [
            "imports that point the wrong way (layer order: " + " <- ".join(ORDER) + "):",
            *(_describe(*v) for v in new),
        ]
    )
    assert not new, message
    assert not gone, f"fixed, remove from KNOWN: {sorted(gone)}"


def test_no_import_cycle_at_module_level() -> None:
    cycles = _cycles(_graph(module_level_only=True))
    assert not cycles, "module-level import cycles: " + "; ".join(
        " <-> ".join(sorted(c)) for c in cycles
    )


def test_no_mutual_imports_even_in_functions() -> None:
    cycles = _cycles(_graph(module_level_only=False))
    known = [c for c in cycles if any(k <= c for k in KNOWN_CYCLES)]
    new = [c for c in cycles if c not in known]
    assert not new, (
        "modules that import each other (function-level imports included): "
        + "; ".join(" <-> ".join(sorted(c)) for c in new)
    )
    gone = [k for k in KNOWN_CYCLES if not any(k <= c for c in cycles)]
    assert not gone, f"broken, remove from KNOWN_CYCLES: {gone}"


_IMPORT_ALONE = r"""
import importlib, json, sys, traceback
failures = {}
for name in json.loads(sys.stdin.read()):
    for loaded in [m for m in sys.modules if m == "dsbuild" or m.startswith("dsbuild.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException as exc:  # noqa: BLE001 - report every failure, whatever it is
        failures[name] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
print(json.dumps(failures))
"""


def test_every_module_imports_alone() -> None:
    """Each module imported first, with no other dsbuild module loaded (third-party
    libraries stay loaded between modules, to keep this fast); two worker processes."""
    names = sorted(m for m in MODULES if not m.endswith(".__main__"))  # __main__ runs the CLI
    halves = [names[0::2], names[1::2]]
    env = {**os.environ, "DSBUILD_TESTING": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _IMPORT_ALONE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        for _ in halves
    ]
    failures: dict[str, str] = {}
    for worker, half in zip(workers, halves):
        out, err = worker.communicate(json.dumps(half), timeout=300)
        assert worker.returncode == 0, err[-2000:]
        failures.update(json.loads(out.strip().splitlines()[-1]))
    assert not failures, "\n".join(f"{name}: {error}" for name, error in sorted(failures.items()))
