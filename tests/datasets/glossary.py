"""A fifth dataset defined only here, in tests: a glossary of terms with LLM definitions.

It proves the `DatasetSpec` protocol: one spec plus its own modules (record model, options,
builder, export hooks, annotation rounds, statistics, card template), registered from
outside dsbuild, and the shared layers (CLI, runner, validation, stats, export, Label Studio)
take it like the four built-in datasets, with no change to them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from dsbuild.builder_options import BuilderOptions, options_of
from dsbuild.datasets import BuildOption, DatasetSpec
from dsbuild.hub.hooks import DatasetExport
from dsbuild.labelstudio.hooks import AnnotationRounds, Unit, Values
from dsbuild.schemas import FormatSpec
from dsbuild.schemas._common import RecordModel
from dsbuild.stages import Builder, map_stage, reject, source_stage
from dsbuild.tables import DatasetStats, FormatStats

NAME = "glossary"
CARD = Path(__file__).with_name("glossary_card.md")


class GlossaryRecord(RecordModel):
    """One term and its definition."""

    id: str
    lang: str = Field(min_length=2)
    term: str = Field(min_length=1)
    definition: str = Field(min_length=1)
    source: str | None = None


FORMAT = FormatSpec(
    NAME,
    NAME,
    GlossaryRecord,
    "id",
    "Glossary rows: a term and its definition",
    frozenset({"term", "definition"}),
)


class Options(BuilderOptions):
    gate_names: ClassVar[tuple[str, ...]] = ("hygiene_definition",)

    terms: list[str] = Field(
        ["ledger", "quorum", "estuary"], min_length=1, description="terms to define"
    )
    max_words: int = Field(40, ge=1, description="longest definition kept, in words")


def _terms(ctx):
    for i, term in enumerate(options_of(ctx, Options).terms):
        yield {"id": f"g{i}", "lang": "en", "term": term, "source": "sample"}


async def _define(record: dict, ctx) -> Any:
    engine = ctx.llm.get()
    result = await engine.complete(
        engine.request(
            [{"role": "user", "content": f"Define the term {record['term']!r} in one sentence."}],
            sampling={"max_tokens": 60, "seed": ctx.seed},
            id=record["id"],
        )
    )
    if not result.ok:
        return result.rejection("define")
    definition = (result.content or "").strip()
    if len(definition.split()) > options_of(ctx, Options).max_words:
        return reject("too_long", f"{len(definition.split())} words")
    return {**record, "definition": definition, "provenance": {"define": result.provenance()}}


def make_builder(settings) -> Builder:
    from dsbuild.gates.hygiene import HygieneGate
    from dsbuild.gates.stage import gate_stage

    SPEC.validate_options(settings.options)
    return Builder(
        NAME,
        "1",
        (
            source_stage("terms", _terms, description="the terms to define"),
            map_stage("define", _define, 4, description="an LLM defines each term"),
            gate_stage(
                "hygiene_definition",
                HygieneGate,
                field="definition",
                lang_field="lang",
                description="hygiene of the definitions",
            ),
        ),
        description="A glossary (test dataset)",
    )


class GlossaryExport(DatasetExport):
    split_key = "id"
    card_template = CARD

    def features(self) -> Any:
        import datasets

        return datasets.Features(
            {k: datasets.Value("string") for k in ("id", "lang", "term", "definition")}
        )

    def rows(self, record: Mapping[str, Any], index: int):
        yield {k: str(record[k]) for k in ("id", "lang", "term", "definition")}


class GlossaryRounds(AnnotationRounds):
    display = ("term", "definition")

    def interface(self):
        from dsbuild.labelstudio.interfaces import add_choices, add_text, finish, start

        lines = ["Is the definition right for the term?"]
        root = start(lines)
        add_text(root, "Term", "term", "$term")
        add_text(root, "Definition", "definition", "$definition")
        add_choices(
            root, "verdict", "definition", {"right": "right", "wrong": "wrong"}, required="true"
        )
        return finish(NAME, root, lines)

    def task(self, unit: Unit):
        return {"term": unit.record["term"], "definition": unit.record["definition"]}, []

    def parse_result(
        self, unit: Unit, result: Sequence[Mapping[str, Any]], where: str
    ) -> dict[str, Any]:
        from dsbuild.labelstudio.results import choice_of

        return {
            "verdict": next((choice_of(i) for i in result if i.get("from_name") == "verdict"), None)
        }

    def reconcile(self, unit: Unit, values: Values, method: str):
        from dsbuild.labelstudio.reconcile import majority_vote

        verdict, unanimous = majority_vote(v["verdict"] for v in values.values() if v["verdict"])
        return {**unit.record, "verdict": verdict}, [] if unanimous else [{"unit": unit.key}]


def _tables(records: list[dict]) -> dict[str, dict]:
    return {
        "Terms": {
            "columns": ["term", "words"],
            "rows": [[r["term"], len(r["definition"].split())] for r in records],
        }
    }


def finalize(result, out_dir: Path, options: dict | None = None) -> dict[str, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = Path(result.records_path).read_text(encoding="utf-8")
    (out_dir / "glossary.jsonl").write_text(lines, encoding="utf-8")
    return {"glossary.jsonl": len(lines.splitlines())}


SPEC = DatasetSpec(
    name=NAME,
    title="Glossary of terms (test dataset)",
    description="Terms defined by an LLM, for testing the dataset protocol.",
    method="none",
    formats=(NAME,),
    options=Options,
    make_builder=make_builder,
    model_specs=lambda settings: [None],
    finalize=finalize,
    export=GlossaryExport(),
    annotation=GlossaryRounds(),
    stats=DatasetStats({NAME: FormatStats(_tables)}),
    build_options=(
        BuildOption("--terms", "terms", "comma-separated terms to define", "list", "LIST"),
    ),
)


@contextmanager
def registered() -> Iterator[DatasetSpec]:
    """The dataset registered (spec, record format, CLI group) for the block, then removed."""
    from dsbuild import datasets, schemas
    from dsbuild.cli.app import app
    from dsbuild.cli.dataset_group import make_dataset_group

    datasets.register(SPEC)
    schemas.register_format(FORMAT)
    app.add_command(make_dataset_group(NAME))
    try:
        yield SPEC
    finally:
        app.commands.pop(NAME, None)
        schemas.FORMATS.pop(NAME, None)
        datasets.unregister(NAME)
