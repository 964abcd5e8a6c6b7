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
wikipedia, wikidata (dump paths; default: the embedded samples), max_languages (5),
switch_fraction (1.0), splitter (spacy | stanza), min_links (1), max_links (10),
min_chars (20), max_tokens (128). `languages` (settings) defaults to the 93 XLM-R languages.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from dsbuild.codeswitch import XLMR_LANGUAGES, EntityLink, candidate_languages, choose_languages
from dsbuild.datasets import BuildOption, DatasetSpec
from dsbuild.errors import ConfigError, InputError
from dsbuild.stages import Builder, Reject, map_stage, reject, source_stage

if TYPE_CHECKING:
    from dsbuild.config import Settings

__all__ = [
    "SPEC",
    "finalize",
    "make_builder",
    "sample_paths",
    "sentence_filter",
]  # and DEFAULTS, lazily

STAGE_READ = "read_wikipedia"
_REMNANTS = ("|", "{{", "}}", "[[", "]]", "{|", "|}", "thumb", "px|")


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


def sentence_filter(
    text: str, links: list[tuple[int, int]], n_tokens: int, opts: dict
) -> str | None:
    """The paper's sentence filter: None to keep, else the reason code."""
    if not opts["min_links"] <= len(links) <= opts["max_links"]:
        return "link_count"
    if len(text) <= opts["min_chars"]:
        return "too_short"
    if n_tokens > opts["max_tokens"]:
        return "too_long"
    if _has_remnant(text):
        return "markup_remnant"
    size = len(text)
    for s, e in links:
        if (e - s) * 2 > size:
            return "dominant_link"
    return None


def _has_remnant(text: str) -> bool:
    """Whether `text` holds one of `_REMNANTS` ("{|", "|}" and "px|" hold "|"): chained
    `in` tests, the fastest way to ask (measured)."""
    return (
        "|" in text
        or "{{" in text
        or "}}" in text
        or "[[" in text
        or "]]" in text
        or "thumb" in text
    )


def _read_wikipedia(ctx) -> Iterator[dict]:
    """Redirect records, then sentence records with their links (offsets in the sentence).

    Pages go to `workers` processes (or Ray workers) in chunks; results come back in page
    order, so the output is the same whatever the number of workers or the engine.
    """
    from dsbuild.wiki import iter_pages

    opts = _options(ctx)
    workers = int(ctx.runtime.get("workers") or 1)
    engine = ctx.runtime.get("engine") or "local"
    chunks = _chunks(_whole(iter_pages(Path(opts["wikipedia"])), opts["wikipedia"]), 64)
    job = partial(_chunk_records, opts=opts)
    with _pool(workers, engine) as pool:
        for records in pool.imap(job, chunks) if pool is not None else map(job, chunks):
            yield from records


def _whole(items, path: str) -> Iterator:
    """The dump's pages; a compressed dump cut short is an error, not a last reject: the
    corpus would silently miss the rest of Wikipedia."""
    from dsbuild.wiki import PageReject

    for item in items:
        if (
            isinstance(item, PageReject)
            and item.reason == "truncated"
            and "compressed stream" in item.detail
        ):
            raise InputError(
                f"the Wikipedia dump {path} is cut short: {item.detail}",
                "download the dump again (or check it with bzip2 -t / gzip -t)",
                code="DSB303",
            )
        yield item


def _chunks(items, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def _pool(workers: int, engine: str):
    if engine == "ray":
        try:
            from ray.util.multiprocessing import Pool as RayPool
        except ImportError:
            raise ConfigError(
                "--engine ray needs Ray, which is not installed",
                "pip install 'dsbuild[ray]'",
                code="DSB103",
            ) from None
        pool = RayPool(processes=workers)
    elif workers > 1:
        import multiprocessing

        pool = multiprocessing.get_context("spawn").Pool(workers)
    else:
        yield None
        return
    try:
        yield pool
    finally:
        pool.terminate()


def _chunk_records(pages: list, opts: dict) -> list[dict]:
    """Records of a chunk of pages (runs in a worker process)."""
    from dsbuild.wiki import Page, parse_wikitext

    splitter = _splitter(opts["splitter"])
    out: list[dict] = []
    for item in pages:
        if not isinstance(item, Page):  # a malformed page: kept as a reject, reading goes on
            out.append(
                Reject(
                    f"page:{item.page_id or item.title or 'unknown'}",
                    STAGE_READ,
                    "page_" + item.reason,
                    item.detail,
                )
            )
            continue
        if item.redirect:
            out.append(
                {
                    "id": f"redirect:{item.title}",
                    "kind": "redirect",
                    "title": item.title,
                    "target": item.redirect,
                }
            )
            continue
        parsed = parse_wikitext(item.text)
        out.extend(_sentences(item, parsed.text, parsed.links, splitter, opts))
    return out


@lru_cache(maxsize=4)
def _splitter(engine: str):
    from dsbuild.sentences import SentenceSplitter

    return SentenceSplitter("en", engine)


def _sentences(page, text: str, links: list, splitter, opts: dict) -> Iterator[dict | Reject]:
    """Sentence records (and rejects) of the paragraphs of `text` that hold a link; the
    n-th sentence of those paragraphs gets id `PAGE-n`. A sentence's links are those wholly
    inside it; links (as `parse_wikitext` gives them) and sentences are sorted and disjoint,
    so each sentence's links are the next run of the paragraph's."""
    n = 0
    title = page.title
    prefix = f"{page.id}-"
    min_links, max_links = opts["min_links"], opts["max_links"]
    min_chars, max_tokens = opts["min_chars"], opts["max_tokens"]
    for para_start, para_end, para_links in _link_paragraphs(text, links):
        para = text[para_start:para_end]
        spans = [(link.start - para_start, link.end - para_start) for link in para_links]
        count = len(spans)
        k = 0
        for sent in splitter.split(para, spans, count=False):
            start, end = sent.start, sent.end
            while k < count and spans[k][0] < start:
                k += 1
            j = k
            while j < count and spans[j][1] <= end:
                j += 1
            inside = [(s - start, e - start) for s, e in spans[k:j]]
            targets = para_links[k:j]
            s_text = para[start:end]
            sid = prefix + str(n)
            n += 1
            n_tokens = sent.n_tokens
            if n_tokens < 0:  # not counted: count only where the filter's answer hangs on it
                n_tokens = len(s_text)  # tokens <= characters: decides alike when that fits
                if (
                    min_links <= len(inside) <= max_links
                    and min_chars < n_tokens
                    and n_tokens > max_tokens
                ):
                    n_tokens = splitter.count_tokens(para, sent)
            reason = sentence_filter(s_text, inside, n_tokens, opts)
            if reason:
                yield Reject(sid, STAGE_READ, reason)
                continue
            yield {
                "id": sid,
                "kind": "sentence",
                "page": title,
                "text": s_text,
                "links": [[s, e, link.target] for (s, e), link in zip(inside, targets)],
            }


def _link_paragraphs(text: str, links: list) -> Iterator[tuple[int, int, list]]:
    """(start, end, links) of each paragraph (see `_paragraphs`) holding a link wholly.

    Found from the links, not by walking every paragraph: paragraph ends are the `\\n\\n`
    around a link, which is the same as `_paragraphs` unless a newline run longer than two
    occurs (never in `parse_wikitext` output; then `_paragraphs` is walked)."""
    if "\n\n\n" in text:
        yield from _link_paragraphs_walk(text, links)
        return
    li = 0
    size = len(text)
    count = len(links)
    while li < count:
        link = links[li]
        start = text.rfind("\n\n", 0, link.start)
        start = 0 if start < 0 else start + 2
        end = text.find("\n\n", start)
        if end < 0:
            end = size
        if link.start < start or link.end > end or not text[start:end].strip():
            li += 1  # not wholly in a (non-blank) paragraph: no paragraph takes it
            continue
        lj = li
        while lj < count and links[lj].end <= end:
            lj += 1
        yield start, end, links[li:lj]
        li = lj
        while li < count and links[li].start < end + 2:  # straddling the end: dropped
            li += 1


def _link_paragraphs_walk(text: str, links: list) -> Iterator[tuple[int, int, list]]:
    li = 0
    for para_start, para_end in _paragraphs(text):
        while li < len(links) and links[li].start < para_start:
            li += 1
        lj = li
        while lj < len(links) and links[lj].end <= para_end:
            lj += 1
        if lj > li:
            yield para_start, para_end, links[li:lj]


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    while start < len(text):
        end = text.find("\n\n", start)
        if end < 0:
            end = len(text)
        if text[start:end].strip():
            yield start, end
        start = end + 2


def _prepare_links(ctx, records) -> None:
    """Collect redirects and needed titles; build (or reopen) the label store."""
    from dsbuild.wikidata import LabelStore, build_label_store

    opts = _options(ctx)
    redirects: dict[str, str] = {}
    titles: set[str] = set()
    for rec in records():
        if rec.get("kind") == "redirect":
            redirects[rec["title"]] = rec["target"]
        else:
            titles.update(link[2] for link in rec["links"])
    resolved = {_resolve(t, redirects) for t in titles}
    ctx.redirects = redirects
    store_path = ctx.workdir / "labels.sqlite3"
    languages = list(ctx.config.get("languages") or XLMR_LANGUAGES)
    if not (ctx.workdir / "labels.done").exists():
        store_path.unlink(missing_ok=True)
        build_label_store(
            Path(opts["wikidata"]),
            store_path,
            titles=sorted(resolved),
            languages=["en", *languages],
            on_problem=partial(_dump_problem, opts["wikidata"]),
        )
        (ctx.workdir / "labels.done").write_text("ok\n")
    # Looked up per sentence through the store's bounded cache, not loaded whole: the
    # needed entities of a full dump do not fit in memory with all their labels.
    ctx.store = LabelStore.open(store_path)
    ctx.languages = languages


def _dump_problem(path: str, problem) -> None:
    """A Wikidata dump whose compressed stream is cut short stops the build (labels of the
    rest would be missing); other dump problems are counted by the store, as before."""
    if problem.kind == "truncated" and "compressed stream" in problem.detail:
        raise InputError(
            f"the Wikidata dump {path} is cut short: {problem.detail}",
            "download the dump again (or check it with bzip2 -t / gzip -t)",
            code="DSB303",
        )


def _resolve(title: str, redirects: dict[str, str]) -> str:
    seen = set()
    while title in redirects and title not in seen:
        seen.add(title)
        title = redirects[title]
    return title


def _link_entities(record: dict, ctx) -> Any:
    """QIDs for the sentence's links; the languages to switch to, with their labels."""
    if record.get("kind") == "redirect":
        return []
    opts = _options(ctx)
    links = []
    labels: dict[str, dict[str, str]] = {}
    titles = [_resolve(target, ctx.redirects) for _, _, target in record["links"]]
    entities = ctx.store.labels_for_titles(titles)
    for (s, e, _), title in zip(record["links"], titles):
        found = entities.get(title)
        qid = found[0] if found else None
        if qid:
            labels[qid] = found[1]
        links.append(EntityLink(s, e, title, qid))
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
    from dsbuild.codeswitch import english_row, switch

    opts = _options(ctx)
    links = [EntityLink(s, e, t, q) for s, e, t, q in record["links"]]
    rows = [english_row(record["id"], record["text"], links)]
    for lang in record["languages"]:
        rows.append(
            switch(
                record["id"],
                record["text"],
                links,
                record["labels"],
                lang,
                fraction=float(opts["switch_fraction"]),
                seed=ctx.seed,
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
            source_stage(STAGE_READ, _read_wikipedia, version="1"),
            map_stage("link_entities", _link_entities, prepare=_prepare_links, version="1"),
            map_stage("code_switch", _code_switch, version="1"),
            # a switched label in a script its language does not use drops that row only
            gate_stage("label_script", ScriptGate, texts=entitycs_labels),
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
            "processes for the text stage [default: 1]; output is identical for any number",
            "int",
            "N",
        ),
        BuildOption(
            "--engine", "settings.engine", "local or ray [default: local]", "str", "local|ray"
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
