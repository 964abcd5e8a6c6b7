"""EntityCS: English Wikipedia sentences whose wikilinked entities are switched to their
Wikidata labels in other languages (Whitehouse et al., 2022), built at dump scale.

Stages (each checkpointed by the runner):

    read_wikipedia  stream the XML dump; plain text with links; split the paragraphs that
                    have links into sentences (never inside a link) and keep what the paper
                    keeps: 1-10 links, > 20 characters, <= 128 tokens, no table/file
                    remnants, no single link over half the sentence (every sentence or
                    broken page left out is a reject with its reason); redirect pages
                    become redirect records, never documents
    link_entities   prepare: from all link targets (through redirects) build a label store
                    of only the needed QIDs x target languages, in one pass over the
                    Wikidata dump; then per sentence: QIDs, the languages in which every
                    entity has a label, up to K of them sampled by sentence id
    code_switch     one row per chosen language plus the English-only row, with language
                    tags and entity offsets (see `dsbuild.codeswitch`)

Options (`--option KEY=VALUE`, or the named flags of `dsbuild entitycs build`):
wikipedia, wikidata (dump paths; default: the embedded samples), wikipedia_index (a
multistream dump's index; default: found beside it), max_languages (5),
switch_fraction (1.0), splitter (spacy | stanza), min_links (1), max_links (10),
min_chars (20), max_tokens (128). `languages` (settings) defaults to the 93 XLM-R languages.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from dsbuild.codeswitch import XLMR_LANGUAGES, EntityLink, candidate_languages, choose_languages
from dsbuild.datasets import BuildOption, DatasetSpec
from dsbuild.entitycs.text import (
    STAGE_READ,
    chunk_records,
    chunks,
    dump_problem,
    entity_links,
    link_targets,
    sentence_filter,
    sentence_splitter,
)
from dsbuild.stages import Builder, map_stage, reject, source_stage

if TYPE_CHECKING:
    from dsbuild.config import Settings

__all__ = [
    "SPEC",
    "finalize",
    "make_builder",
    "sample_paths",
    "sentence_filter",
]  # and DEFAULTS, lazily

# the text stage's helpers under the names benchmarks/wiki_text.py imports from here
_chunk_records, _chunks, _splitter = chunk_records, chunks, sentence_splitter


def __getattr__(name: str) -> Any:
    if (
        name == "DEFAULTS"
    ):  # the sentence filter's defaults, loaded when asked (no pydantic at --help)
        from dsbuild.entitycs.options import DEFAULTS

        return DEFAULTS
    raise AttributeError(name)


def sample_paths() -> tuple[Path, Path]:
    """The embedded mini-Wikipedia and Wikidata excerpt written for dsbuild."""
    from importlib.resources import files

    root = Path(str(files("dsbuild.samples"))) / "entitycs"
    return root / "enwiki-sample.xml", root / "wikidata-sample.json"


def _options(ctx) -> dict[str, Any]:
    """The builder's options with defaults, computed once per stage context."""
    opts = getattr(ctx, "_entitycs_options", None)
    if opts is None:
        from dsbuild.builder_kit import options

        opts = options(ctx, SPEC).model_dump(exclude={"gates", "gate"})
        wiki, wd = sample_paths()
        opts["wikipedia"] = opts["wikipedia"] or str(wiki)
        opts["wikidata"] = opts["wikidata"] or str(wd)
        ctx._entitycs_options = opts
    return opts


def _read_wikipedia(ctx) -> Iterator[Any]:
    """Redirect records and sentence records with their links (offsets in the sentence),
    and the rejects, in dump order.

    The dump is cut into shards by byte range (`dsbuild.entitycs.shards`); `workers`
    processes (or Ray workers) each read whole shards and write their own records and
    rejects, which the runner joins in shard order (parts): the output is the same whatever
    the number of workers or the engine, and a killed run keeps the shards it finished.
    """
    from dsbuild.entitycs.shards import read_sharded

    opts = _options(ctx)
    yield from read_sharded(
        ctx.workdir,
        opts,
        workers=int(ctx.runtime.get("workers") or 1),
        engine=ctx.runtime.get("engine") or "local",
        ray_address=ctx.runtime.get("ray_address"),
        run_info=getattr(ctx, "run_info", None),
        stage=STAGE_READ,
        task=getattr(ctx, "task", None),
    )


def _prepare_links(ctx, records) -> None:
    """Collect redirects and needed titles; build (or reopen) the label store."""
    from dsbuild.wikidata import LabelStore, build_label_store

    opts = _options(ctx)
    ctx.redirects, resolved = link_targets(records())
    store_path = ctx.workdir / "labels.sqlite3"
    languages = list(ctx.config.get("languages") or XLMR_LANGUAGES)
    if not (ctx.workdir / "labels.done").exists():
        store_path.unlink(missing_ok=True)
        workers = int(ctx.runtime.get("workers") or 1)
        engine = ctx.runtime.get("engine") or "local"
        args = dict(
            titles=sorted(resolved),
            languages=["en", *languages],
            on_problem=partial(dump_problem, opts["wikidata"]),
        )
        if workers > 1 or engine == "ray":  # the same store, the dump scanned in parts
            from dsbuild.wikidata.parallel import build_label_store_parallel

            build_label_store_parallel(
                Path(opts["wikidata"]),
                store_path,
                workers=workers,
                engine=engine,
                ray_address=ctx.runtime.get("ray_address"),
                work_dir=ctx.workdir / "label-parts",  # finished parts survive a kill
                **args,
            )
        else:
            build_label_store(Path(opts["wikidata"]), store_path, **args)
        (ctx.workdir / "labels.done").write_text("ok\n")
    # Looked up per sentence through the store's bounded cache, not loaded whole: the
    # needed entities of a full dump do not fit in memory with all their labels.
    ctx.store = LabelStore.open(store_path)
    ctx.languages = languages


def _link_entities(record: dict, ctx) -> Any:
    """QIDs for the sentence's links; the languages to switch to, with their labels."""
    if record.get("kind") == "redirect":
        return []
    opts = _options(ctx)
    links, labels = entity_links(record["links"], ctx.redirects, ctx.store)
    if not labels:
        return reject("no_entity", "no link of the sentence has a Wikidata item")
    langs = candidate_languages(links, labels, ctx.languages)
    if not langs:
        return reject("no_language", "no target language has a label for every entity")
    chosen = choose_languages(
        langs, int(opts["max_languages"]), seed=ctx.seed, sentence_id=record["id"]
    )
    return {
        "id": record["id"],
        "page": record["page"],
        "text": record["text"],
        "links": [[link.start, link.end, link.title, link.qid] for link in links],
        "languages": chosen,
        "labels": {q: {lang: lab[lang] for lang in chosen} for q, lab in labels.items()},
    }


def _code_switch(record: dict, ctx) -> list[dict]:
    """The English-only row and one code-switched row per chosen language."""
    from dsbuild.codeswitch import english_row, english_tagged, switch

    opts = _options(ctx)
    links = [EntityLink(s, e, t, q) for s, e, t, q in record["links"]]
    english = english_tagged(record["text"], links)  # the same in every row of the sentence
    rows = [english_row(record["id"], record["text"], links, english=english)]
    fraction = float(opts["switch_fraction"])
    for lang in record["languages"]:
        rows.append(
            switch(
                record["id"],
                record["text"],
                links,
                record["labels"],
                lang,
                fraction=fraction,
                seed=ctx.seed,
                english=english,
            )
        )
    return rows


def make_builder(settings: Settings | None = None) -> Builder:
    from dsbuild.gates.langid import ScriptGate
    from dsbuild.gates.stage import entitycs_labels, gate_stage

    if settings is not None:
        from dsbuild.builder_options import check_languages

        SPEC.validate_options(settings.options)
        check_languages(settings.languages, XLMR_LANGUAGES, "entitycs")

    return Builder(
        "entitycs",
        "1",
        (
            source_stage(STAGE_READ, _read_wikipedia, version="1", parts=True),
            # per sentence, plain CPU: in the run's `workers` processes
            map_stage(
                "link_entities",
                _link_entities,
                prepare=_prepare_links,
                version="1",
                processes=True,
            ),
            map_stage("code_switch", _code_switch, version="1", processes=True),
            # a switched label in a script its language does not use drops that row only
            gate_stage("label_script", ScriptGate, texts=entitycs_labels, processes=True),
        ),
        description=__doc__.splitlines()[0],
    )


def finalize(result, out_dir: Path, options: dict | None = None) -> dict[str, int]:
    """One JSONL and one Parquet file per language (en = the English-only set)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    handles: dict[str, Any] = {}
    counts: dict[str, int] = {}
    try:
        with open(result.records_path, encoding="utf-8") as f:
            for line in f:
                lang = json.loads(line)["language"]
                if lang not in handles:
                    handles[lang] = open(out_dir / f"{lang}.jsonl.tmp", "w", encoding="utf-8")
                handles[lang].write(line)
                counts[lang] = counts.get(lang, 0) + 1
    finally:
        for h in handles.values():
            h.close()
    import polars as pl

    for lang in counts:
        tmp = out_dir / f"{lang}.jsonl.tmp"
        tmp.replace(out_dir / f"{lang}.jsonl")
        pl.read_ndjson(out_dir / f"{lang}.jsonl").write_parquet(out_dir / f"{lang}.parquet")
    return dict(sorted(counts.items()))


SPEC = DatasetSpec(
    name="entitycs",
    title="EntityCS entity code-switched corpora",
    description=(
        "English Wikipedia sentences whose wikilinked entities are replaced by their Wikidata "
        "labels in other languages."
    ),
    method="Whitehouse et al., 2022 (EntityCS)",
    formats=("entitycs",),
    options="dsbuild.entitycs.options:Options",
    make_builder=make_builder,
    finalize=finalize,
    export="dsbuild.entitycs.export:EXPORT",
    annotation="dsbuild.entitycs.rounds:ROUNDS",
    stats="dsbuild.entitycs.stats:STATS",
    build_options=(
        BuildOption(
            "--wikipedia",
            "wikipedia",
            "pages-articles XML dump (.bz2/.gz/.xml); default: the embedded mini-Wikipedia",
            "path",
            "DUMP",
        ),
        BuildOption(
            "--wikidata",
            "wikidata",
            "Wikidata JSON dump (.bz2/.gz/.json); default: the embedded excerpt",
            "path",
            "DUMP",
        ),
        BuildOption(
            "--languages",
            "settings.languages",
            "target languages, comma-separated [default: the 93 XLM-R languages]",
            "list",
            "LIST",
        ),
        BuildOption(
            "--max-languages",
            "max_languages",
            "languages per sentence at most [default: 5]",
            "int",
            "K",
        ),
        BuildOption(
            "--workers",
            "settings.workers",
            "processes for the text stage, the label store and the per-sentence stages "
            "[default: 1]; output is identical for any number",
            "int",
            "N",
        ),
        BuildOption(
            "--engine", "settings.engine", "local or ray [default: local]", "str", "local|ray"
        ),
        BuildOption(
            "--ray-address",
            "settings.ray_address",
            "Ray cluster to join with --engine ray: auto or HOST:PORT [default: start a local "
            "Ray of --workers CPUs]",
            "str",
            "ADDR",
        ),
        BuildOption(
            "--wikipedia-index",
            "wikipedia_index",
            "index of a multistream dump [default: the …-multistream-index.txt.bz2 beside it]",
            "path",
            "INDEX",
        ),
        BuildOption(
            "--out",
            "settings.out",
            "folder for one JSONL + Parquet file per language [default: RUN/export]",
            "path",
            "DIR",
        ),
    ),
)
