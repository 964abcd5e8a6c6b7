"""The cultural builder end to end on the real runner and engine, with the fake model:
segments (given, lexicon, LLM; offsets; merging), roster x locales, translate, align,
every reject reason, resume, the CLI and the rating sheet."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest

from dsbuild.builders.cultural import finalize, make_builder
from dsbuild.config import Settings
from dsbuild.errors import ConfigError, InputError
from dsbuild.llm.pool import ModelPool
from dsbuild.llm.types import BackendError
from dsbuild.runs import run_builder
from dsbuild.testing import FakeLLM, installed
from dsbuild.validation import validate_path

TEXT = (
    "Happy \u201cValentine\u2019s Day\u201d \U0001f389! Black Friday deals: it is raining "
    "cats and dogs of savings. Black Friday again? No strings attached."
)
JA = (
    "\U0001f389\u30d0\u30ec\u30f3\u30bf\u30a4\u30f3\u30c7\u30fc\u304a\u3081\u3067\u3068\u3046\uff01"
    "\u30d6\u30e9\u30c3\u30af\u30d5\u30e9\u30a4\u30c7\u30fc\u306e\u30bb\u30fc\u30eb\uff1a"
    "\u304a\u5f97\u304c\u3044\u3063\u3071\u3044\u3002\u307e\u305f"
    "\u30d6\u30e9\u30c3\u30af\u30d5\u30e9\u30a4\u30c7\u30fc\uff1f"
)
BF = "\u30d6\u30e9\u30c3\u30af\u30d5\u30e9\u30a4\u30c7\u30fc"  # ブラックフライデー
VD = "\u30d0\u30ec\u30f3\u30bf\u30a4\u30f3\u30c7\u30fc"  # バレンタインデー


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def build(tmp_path: Path, fake: FakeLLM | None = None, *, run: str = "run", **options):
    """Run the builder like `dsbuild cultural build` does, one request at a time."""
    fake = fake or FakeLLM()
    settings = Settings(
        model="fake:default", cache_dir=tmp_path / "cache", concurrency=1, options=options
    )
    builder = make_builder(settings)
    pool = ModelPool(settings)
    with installed(fake), asyncio.Runner() as loop:
        try:
            result = run_builder(
                builder,
                tmp_path / run,
                settings.public_dict(),
                context_extras={"settings": settings, "llm": pool},
                loop=loop,
            )
        finally:
            loop.run(pool.aclose())
    return result


def records(result) -> list[dict]:
    return [json.loads(line) for line in Path(result.records_path).read_text().splitlines()]


def rejects(result) -> list[dict]:
    path = Path(result.rejects_path)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def by_stage(result) -> dict:
    return {s.name: s for s in result.stages}


# -- segments, translate and align on one text --------------------------------------------
@pytest.fixture
def one_text(tmp_path):
    sources = write_jsonl(
        tmp_path / "texts.jsonl",
        [
            {
                "id": "t1",
                "text": TEXT,
                "segments": [{"surface": "Black Friday", "category": "cultural concept"}],
            }
        ],
    )
    lexicon = write_jsonl(
        tmp_path / "lexicon.jsonl",
        [{"surface": "no strings attached", "category": "idiom", "note": "no conditions"}],
    )
    return sources, lexicon


def segment_reply():
    return {
        "segments": [
            {"surface": "Valentine's Day", "category": "holiday", "note": "14 February"},
            {"surface": "Black Friday", "category": "cultural_concept", "note": "sale day"},
            {"surface": "Black Friday", "category": "cultural_concept", "note": "again"},
            {"surface": "raining cats and dogs", "category": "idiom", "note": "heavy rain"},
            {"surface": "over the moon", "category": "idiom", "note": "very happy"},
            {"surface": "No strings attached", "category": "idiom", "note": "llm"},
            {"surface": "raining cats and dogs", "category": "idiom", "note": "twice"},
        ]
    }


def test_segments_translate_align_offsets_and_statuses(tmp_path, one_text):
    sources, lexicon = one_text
    fake = FakeLLM().enqueue(
        segment_reply(), JA, {"counterparts": [VD, BF, "\u5927\u96e8", BF, None]}
    )
    result = build(tmp_path, fake, sources=str(sources), lexicon=str(lexicon), locales=["ja-JP"])
    [rec] = records(result)
    assert rec["id"] == "t1/ja-JP/fake:default" and rec["text_id"] == "t1"
    nuances = rec["nuances"]
    got = [(n["surface"], n["origin"], n["match"], n["category"]) for n in nuances]
    assert got == [
        ("Valentine\u2019s Day", "llm", "normalized", "holiday"),
        ("Black Friday", "given", "exact", "cultural_concept"),
        ("raining cats and dogs", "llm", "exact", "idiom"),
        ("Black Friday", "llm", "exact", "cultural_concept"),
        ("No strings attached", "lexicon", "normalized", "idiom"),
    ]
    for n in nuances:
        assert TEXT[n["start"] : n["end"]] == n["surface"]
    assert nuances[1]["start"] == TEXT.index("Black Friday") and nuances[3]["start"] == TEXT.rindex(
        "Black Friday"
    )
    stats = rec["segment_stats"]
    assert stats["llm_proposed"] == 7 and stats["llm_not_found"] == 1
    assert stats["llm_not_found_surfaces"] == ["over the moon"] and stats["llm_repeated"] == 1
    assert stats["overlaps_dropped"] == 2 and stats["kept"] == {"given": 1, "lexicon": 1, "llm": 3}

    [tr] = rec["translations"]
    assert tr["system"] == "fake:default" and tr["target_lang"] == "ja-JP" and tr["text"] == JA
    status = [(a["status"], a["counterpart"], a["start"]) for a in tr["alignments"]]
    assert status == [
        ("aligned", VD, JA.index(VD)),
        ("aligned", BF, JA.index(BF)),
        ("not_located", "\u5927\u96e8", None),
        ("aligned", BF, JA.rindex(BF)),
        ("omitted", None, None),
    ]
    for a in tr["alignments"]:
        if a["status"] == "aligned":
            assert JA[a["start"] : a["end"]] == a["counterpart"]
    assert tr["align_stats"] == {"aligned": 3, "omitted": 1, "not_located": 1}
    assert tr["provenance"]["translate"]["template_id"] == "cultural/translate"
    assert tr["provenance"]["align"]["template_id"] == "cultural/align"
    assert rec["provenance"]["segments"]["template_id"] == "cultural/segments"
    assert validate_path(result.records_path, "cultural").ok

    # the prompts: categories and schema enum, the translation prompt names the locale
    seg_call, tr_call, al_call = fake.calls
    schema = seg_call["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["segments"]["items"]["properties"]["category"]["enum"] == [
        "idiom",
        "pun",
        "holiday",
        "cultural_concept",
    ]
    assert (
        "Japanese" in tr_call["messages"][0]["content"]
        and "Japan" in tr_call["messages"][0]["content"]
    )
    arr = al_call["response_format"]["json_schema"]["schema"]["properties"]["counterparts"]
    assert arr["minItems"] == arr["maxItems"] == 5
    assert "1. [holiday] Valentine\u2019s Day" in al_call["messages"][-1]["content"]


def test_finalize_writes_records_and_a_rating_sheet(tmp_path, one_text):
    from dsbuild.cultural.spreadsheet import long_to_wide, read_wide, wide_to_long

    sources, lexicon = one_text
    fake = FakeLLM().enqueue(segment_reply(), JA, {"counterparts": [VD, BF, "x", BF, None]})
    result = build(
        tmp_path,
        fake,
        sources=str(sources),
        lexicon=str(lexicon),
        locales=["ja-JP"],
        raters=["r1", "r2"],
    )
    out = tmp_path / "export"
    counts = finalize(result, out)
    assert counts == {
        "cultural.jsonl": 1,
        "rating-sheet.jsonl": 12,
        "rating-sheet.csv": 2,
        "rating-sheet.xlsx": 2,
    }
    assert validate_path(out / "cultural.jsonl", "cultural").ok
    wide = read_wide(out / "rating-sheet.csv")
    row = next(wide.iter_rows(named=True))
    assert row["Rater ID"] == "r1" and row["Translation"] == JA and row["Overall"] is None
    assert [row[f"Segment {n} translation"] for n in range(1, 6)] == [VD, BF, None, BF, None]
    assert [row[f"Segment {n} rating"] for n in range(1, 6)] == [None] * 5
    assert row["Segment 5"] == "No strings attached" and row["Segment 5 category"] == "idiom"
    assert read_wide(out / "rating-sheet.xlsx").equals(wide)
    assert long_to_wide(wide_to_long(wide)).equals(wide)


def test_finalize_merges_translations_per_text(tmp_path):
    result = build(tmp_path, models=["fake:a", "fake:b"], locales=["ja-JP", "es-MX"])
    rows = records(result)
    assert len(rows) == 5 * 2 * 2 and len({r["id"] for r in rows}) == 20
    assert Counter(r["translations"][0]["system"] for r in rows) == {"fake:a": 10, "fake:b": 10}
    counts = finalize(result, tmp_path / "export")
    merged = [
        json.loads(x) for x in (tmp_path / "export" / "cultural.jsonl").read_text().splitlines()
    ]
    assert counts["cultural.jsonl"] == 5 and all(len(m["translations"]) == 4 for m in merged)
    assert {(t["system"], t["target_lang"]) for t in merged[0]["translations"]} == {
        ("fake:a", "ja-JP"),
        ("fake:b", "ja-JP"),
        ("fake:a", "es-MX"),
        ("fake:b", "es-MX"),
    }
    assert validate_path(tmp_path / "export" / "cultural.jsonl", "cultural").ok
    assert counts["rating-sheet.csv"] == 20


# -- rejects ------------------------------------------------------------------------------
def test_given_segment_rejects_name_the_segment(tmp_path):
    sources = write_jsonl(
        tmp_path / "texts.jsonl",
        [
            {
                "id": "mismatch",
                "text": "Brie mine today.",
                "segments": [{"surface": "Brie mine", "category": "pun", "start": 1, "end": 10}],
            },
            {
                "id": "notfound",
                "text": "Brie mine today.",
                "segments": [{"surface": "Be mine", "category": "pun"}],
            },
            {
                "id": "badcat",
                "text": "Brie mine today.",
                "segments": [{"surface": "Brie mine", "category": "proverb"}],
            },
            {
                "id": "empty",
                "text": "Brie mine today.",
                "segments": [{"surface": " ", "category": "pun"}],
            },
            {
                "id": "halfspan",
                "text": "Brie mine today.",
                "segments": [{"surface": "Brie mine", "category": "pun", "start": 0}],
            },
            {"id": "none", "text": "Nothing special here."},
            {
                "id": "ok",
                "text": "Brie mine today.",
                "segments": [
                    {"surface": "Brie mine", "category": "pun", "start": 0, "end": 9},
                    {"surface": "today", "category": "other"},
                ],
            },
        ],
    )
    fake = FakeLLM()
    result = build(tmp_path, fake, sources=str(sources), llm_segments=False, locales=["es-MX"])
    got = {r["id"]: (r["stage"], r["reason"], r["detail"]) for r in rejects(result)}
    assert got["mismatch"][:2] == ("segments", "given_segment_mismatch")
    assert (
        "given segment 1 ('Brie mine')" in got["mismatch"][2]
        and "'rie mine '" in got["mismatch"][2]
    )
    assert got["notfound"][1] == "given_segment_not_found" and "'Be mine'" in got["notfound"][2]
    assert got["badcat"][1] == "given_segment_bad_category" and "'proverb'" in got["badcat"][2]
    assert got["empty"][1] == "given_segment_empty"
    assert got["halfspan"][1] == "given_segment_mismatch" and "start and end" in got["halfspan"][2]
    assert got["none"][1] == "no_segments"
    [ok] = records(result)
    assert [(n["surface"], n["match"]) for n in ok["nuances"]] == [
        ("Brie mine", "offsets"),
        ("today", "exact"),
    ]
    assert all("segments" not in json.dumps(c.get("response_format")) for c in fake.calls)
    assert len(fake.calls) == 2  # no segment finder: one translation and one alignment


def test_llm_failures_and_translation_rejects(tmp_path, monkeypatch):
    monkeypatch.setattr("dsbuild.llm.engine.backoff_delay", lambda *a, **k: 0.0)
    sources = write_jsonl(
        tmp_path / "texts.jsonl",
        [
            {"id": "a", "text": "It is raining cats and dogs."},
            {"id": "b", "text": "It is raining cats and dogs."},
            {"id": "c", "text": "Break a leg tonight!"},
        ],
    )
    found = {"segments": [{"surface": "Break a leg", "category": "idiom", "note": "good luck"}]}
    fake = FakeLLM().enqueue(
        BackendError("bad_request", "context too long", transient=False),  # a: segments
        "not json",
        "still not json",
        "{nope",  # b: segments
        found,  # c: segments
        "   ",  # c/ja-JP
        "Break a leg tonight!",  # c/es-MX
        BackendError("bad_request", "HTTP 400: refused", transient=False),  # c/ru-KZ
        "\u00a1Mucha mierda esta noche!",  # c/de-DE (any text)
        "Hals- und Beinbruch heute Abend!",  # c/fr-FR
        BackendError("context_length", "too long", transient=False),  # align c/de-DE
        {"counterparts": ["a", "b"]},
        {"counterparts": []},
        {"counterparts": ["a", "b", "c"]},
    )
    result = build(
        tmp_path,
        fake,
        sources=str(sources),
        gates=False,  # any-language texts
        locales=["ja-JP", "es-MX", "ru-KZ", "de-DE", "fr-FR"],
    )
    stages = by_stage(result)
    assert stages["segments"].rejects_by_reason == {"llm_bad_request": 1, "llm_invalid_json": 1}
    assert stages["targets"].n_out == 5
    assert stages["translate"].rejects_by_reason == {
        "empty_translation": 1,
        "same_as_source": 1,
        "llm_bad_request": 1,
    }
    assert stages["align"].rejects_by_reason == {"llm_context_length": 1, "llm_schema_mismatch": 1}
    assert result.n_out == 0
    counts = finalize(result, tmp_path / "export")  # nothing kept: empty files, not a crash
    assert counts == {
        "cultural.jsonl": 0,
        "rating-sheet.jsonl": 0,
        "rating-sheet.csv": 0,
        "rating-sheet.xlsx": 0,
    }
    ids = {r["reason"]: r["id"] for r in rejects(result)}
    assert (
        ids["same_as_source"] == "c/es-MX/fake:default"
        and ids["llm_context_length"] == "c/de-DE/fake:default"
    )


def test_no_segment_from_the_llm_is_a_reject(tmp_path):
    sources = write_jsonl(
        tmp_path / "texts.jsonl", [{"id": "plain", "text": "Our shop opens at nine."}]
    )
    fake = FakeLLM().enqueue({"segments": []})
    result = build(tmp_path, fake, sources=str(sources), locales=["ja-JP"])
    assert by_stage(result)["segments"].rejects_by_reason == {"no_segments": 1}


def test_overriding_templates_with_looser_schemas(tmp_path):
    """A user's prompt may drop the enum or the fixed count: bad categories are counted and
    dropped, a wrong number of counterparts rejects the alignment."""
    import re

    from dsbuild.llm.prompts import package_prompts_dir

    over = tmp_path / "prompts" / "cultural"
    over.mkdir(parents=True)
    seg = (package_prompts_dir() / "cultural" / "segments.md").read_text()
    seg = re.sub(r"category: \{type: string, enum: \[[^\]]*\]\}", "category: {type: string}", seg)
    (over / "segments.md").write_text(seg)
    (over / "align.md").write_text(
        "---\nid: my/align\nversion: 1\ninputs: [source, translation, segments]\n"
        "response_schema:\n  type: object\n  properties:\n    counterparts: {type: array}\n"
        "  required: [counterparts]\n---\nAlign {source} / {translation} / {segments}\n"
    )
    sources = write_jsonl(tmp_path / "t.jsonl", [{"id": "t", "text": "Break a leg tonight!"}])
    fake = FakeLLM().enqueue(
        {
            "segments": [
                {"surface": "Break a leg", "category": "proverb", "note": ""},
                {"surface": "tonight", "category": "Cultural concept", "note": ""},
            ]
        },
        "\u00a1Mucha suerte esta noche!",
        {"counterparts": ["esta noche", "extra"]},
    )
    settings = Settings(
        model="fake:default",
        cache_dir=tmp_path / "cache",
        concurrency=1,
        prompts_dir=tmp_path / "prompts",
        options={"sources": str(sources), "locales": ["es-MX"]},
    )
    pool = ModelPool(settings)
    with installed(fake), asyncio.Runner() as loop:
        try:
            result = run_builder(
                make_builder(settings),
                tmp_path / "run",
                settings.public_dict(),
                context_extras={"settings": settings, "llm": pool},
                loop=loop,
            )
        finally:
            loop.run(pool.aclose())
    stages = by_stage(result)
    assert stages["align"].rejects_by_reason == {"align_count_mismatch": 1}
    seg_out = json.loads(
        (Path(result.run_dir) / "stages" / "02-segments" / "records.jsonl")
        .read_text()
        .splitlines()[0]
    )
    assert seg_out["segment_stats"]["llm_bad_category"] == 1
    assert [(n["surface"], n["category"]) for n in seg_out["nuances"]] == [
        ("tonight", "cultural_concept")
    ]


# -- roster, resume, options --------------------------------------------------------------
def test_rerun_skips_finished_stages_and_a_new_run_replays_the_cache(tmp_path):
    fake = FakeLLM()
    first = build(tmp_path, fake, locales=["ja-JP", "es-MX"])
    calls = len(fake.calls)
    assert calls == 5 + 10 + 10 and first.n_out == 10
    again = build(tmp_path, fake, locales=["ja-JP", "es-MX"])
    assert {s.status for s in again.stages} == {"skipped"} and len(fake.calls) == calls
    assert Path(again.records_path).read_bytes() == Path(first.records_path).read_bytes()
    other = build(tmp_path, fake, run="run-2", locales=["ja-JP", "es-MX"])
    assert len(fake.calls) == calls  # every request answered from the shared cache
    cached = Path(other.records_path).read_text().replace('"cached":true', '"cached":false')
    assert cached == Path(first.records_path).read_text()


def test_limit_and_categories(tmp_path):
    fake = FakeLLM()
    settings_opts = {"locales": ["ja-JP"], "categories": ["idiom", "Holiday"]}
    settings = Settings(
        model="fake:default",
        cache_dir=tmp_path / "cache",
        concurrency=1,
        limit=2,
        options=settings_opts,
    )
    pool = ModelPool(settings)
    with installed(fake), asyncio.Runner() as loop:
        try:
            result = run_builder(
                make_builder(settings),
                tmp_path / "run",
                settings.public_dict(),
                context_extras={"settings": settings, "llm": pool},
                loop=loop,
            )
        finally:
            loop.run(pool.aclose())
    assert by_stage(result)["sources"].n_out == 2
    enum = fake.calls[0]["response_format"]["json_schema"]["schema"]["properties"]["segments"][
        "items"
    ]["properties"]["category"]["enum"]
    assert enum == ["idiom", "holiday"] and "- pun" not in fake.calls[0]["messages"][0]["content"]


@pytest.mark.parametrize(
    "options,match",
    [
        ({"locales": ["ja-JP", "japanese"]}, "locale 'japanese'"),
        ({"locales": []}, None),  # empty: the default locales
        ({"categories": ["idiom", "proverb"]}, "'proverb'"),
    ],
)
def test_option_errors_before_the_run(tmp_path, options, match):
    settings = Settings(model="fake:default", options=options)
    if match is None:
        make_builder(settings)
        return
    with pytest.raises(ConfigError, match=match):
        make_builder(settings)


def test_input_errors_name_the_file_and_line(tmp_path):
    from dsbuild.cultural.sources import read_sources

    missing = Settings(model="fake:default", options={"lexicon": str(tmp_path / "nope.jsonl")})
    with pytest.raises(InputError, match="does not exist"):
        make_builder(missing)
    bad_lex = write_jsonl(tmp_path / "lex.jsonl", [{"surface": "x", "category": "saying"}])
    with pytest.raises(InputError, match=r"lex.jsonl:1: category 'saying'"):
        make_builder(Settings(model="fake:default", options={"lexicon": str(bad_lex)}))
    dup = write_jsonl(tmp_path / "dup.jsonl", [{"id": 1, "text": "a"}, {"id": "1", "text": "b"}])
    with pytest.raises(InputError, match=r"dup.jsonl:2: id '1' is already used on line 1"):
        list(read_sources(dup))
    no_text = write_jsonl(tmp_path / "nt.jsonl", [{"id": "x", "text": " "}])
    with pytest.raises(InputError, match=r"nt.jsonl:1: no `text`"):
        list(read_sources(no_text))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="holds no texts") as exc:
        list(read_sources(tmp_path / "empty.jsonl"))
    assert exc.value.code == "DSB304"
    (tmp_path / "latin1.jsonl").write_bytes('{"id": "x", "text": "caf\u00e9"}\n'.encode("latin-1"))
    with pytest.raises(InputError, match="is not UTF-8"):
        list(read_sources(tmp_path / "latin1.jsonl"))
    (tmp_path / "broken.jsonl").write_text('{"id": "x", "text": "a"}\n[1, 2]\n')
    with pytest.raises(InputError, match=r"broken.jsonl:2: a JSON list, not an object"):
        list(read_sources(tmp_path / "broken.jsonl"))
    (tmp_path / "t.txt").write_text("hello")
    with pytest.raises(InputError, match="not .jsonl, .csv or .tsv"):
        list(read_sources(tmp_path / "t.txt"))


def test_csv_sources_with_segments_and_ids_from_content(tmp_path):
    import csv

    from dsbuild.cultural.sources import read_sources

    path = tmp_path / "texts.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "lang", "segments"])
        w.writerow(
            [
                "",
                "Feliz D\u00eda de Muertos",
                "es",
                json.dumps([{"surface": "D\u00eda de Muertos", "category": "holiday"}]),
            ]
        )
        w.writerow(["x2", "Plain text", "", ""])
    rows = list(read_sources(path))
    assert rows[0]["id"].startswith("text-") and rows[0]["lang"] == "es"
    assert rows[0]["given"] == [{"surface": "D\u00eda de Muertos", "category": "holiday"}]
    assert rows[1] == {
        "id": "x2",
        "lang": "en",
        "text": "Plain text",
        "source": str(path),
        "given": [],
    }
    assert next(iter(read_sources(path)))["id"] == rows[0]["id"]  # stable


def test_locales_are_normalised():
    from dsbuild.cultural.sources import locale_parts, parse_locales

    assert parse_locales("ja_jp, es-mx,ES-MX,ru") == ["ja-JP", "es-MX", "ru"]
    assert locale_parts("ru-KZ") == ("Russian", "Kazakhstan")
    assert locale_parts("es-419")[1] == "the region with code 419"


def test_embedded_sample_segments_match_their_offsets():
    from dsbuild.cultural.sources import read_sources

    texts = list(read_sources())
    assert len(texts) == 5
    for t in texts:
        cats = {g["category"] for g in t["given"]}
        assert len(t["given"]) >= 4 and cats
        for g in t["given"]:
            assert t["text"][g["start"] : g["end"]] == g["surface"]


# -- CLI ----------------------------------------------------------------------------------
def test_cli_build_with_no_dataset_arguments_then_validate(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from dsbuild.cli.app import app

    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    run = tmp_path / "run"
    with installed(FakeLLM()):
        res = runner.invoke(
            app,
            [
                "cultural",
                "build",
                "--model",
                "fake:default",
                "-o",
                str(run),
                "--cache-dir",
                str(tmp_path / "cache"),
                "--no-progress",
            ],
        )
    assert res.exit_code == 0, res.output
    assert "rating-sheet.xlsx" in res.output
    export = run / "export"
    assert {p.name for p in export.iterdir()} >= {
        "cultural.jsonl",
        "rating-sheet.jsonl",
        "rating-sheet.csv",
        "rating-sheet.xlsx",
    }
    assert len(records_of(run)) == 10  # 5 emails x 2 default locales x 1 model
    res = runner.invoke(app, ["cultural", "validate", str(run)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["cultural", "validate", str(export / "cultural.jsonl")])
    assert res.exit_code == 0, res.output


def test_cli_flags_reach_the_builder(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from dsbuild.cli.app import app

    monkeypatch.setenv("COLUMNS", "200")
    lex = write_jsonl(
        tmp_path / "lex.jsonl", [{"surface": "Valentine's Day", "category": "holiday"}]
    )
    run = tmp_path / "run"
    with installed(FakeLLM()):
        res = CliRunner().invoke(
            app,
            [
                "cultural",
                "build",
                "--model",
                "fake:default",
                "-o",
                str(run),
                "--no-progress",
                "--cache-dir",
                str(tmp_path / "cache"),
                "--locales",
                "ja-JP",
                "--models",
                "fake:default,fake:other",
                "--no-llm-segments",
                "--lexicon",
                str(lex),
                "--out",
                str(tmp_path / "out"),
            ],
        )
    assert res.exit_code == 0, res.output
    rows = records_of(run)
    assert len(rows) == 10 and {r["translations"][0]["system"] for r in rows} == {
        "fake:default",
        "fake:other",
    }
    assert (tmp_path / "out" / "rating-sheet.csv").exists()
    config = (run / "config.yaml").read_text()
    assert "llm_segments: false" in config


def records_of(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "records.jsonl").read_text().splitlines()]


# -- the real local model ------------------------------------------------------------------
@pytest.mark.slow
def test_real_local_model_on_one_email(tmp_path):
    """One email, one locale, given segments only: a translation and an alignment with the
    embedded SmolLM2 (about 30-60 s on two cores); offsets must hold whatever it says."""
    pytest.importorskip("llama_cpp")
    sources = write_jsonl(
        tmp_path / "one.jsonl",
        [
            json.loads(
                (
                    Path(__file__).resolve().parents[2]
                    / "dsbuild"
                    / "samples"
                    / "cultural"
                    / "emails.jsonl"
                )
                .read_text()
                .splitlines()[3]
            )
        ],
    )
    settings = Settings(
        cache_dir=tmp_path / "cache",
        concurrency=1,
        # offsets are the point here, not what the gates think of the text
        options={
            "sources": str(sources),
            "locales": ["es-MX"],
            "llm_segments": False,
            "gates": False,
        },
    )
    pool = ModelPool(settings)
    with asyncio.Runner() as loop:
        try:
            result = run_builder(
                make_builder(settings),
                tmp_path / "run",
                settings.public_dict(),
                context_extras={"settings": settings, "llm": pool},
                loop=loop,
            )
        finally:
            loop.run(pool.aclose())
    assert result.status == "finished"
    for rec in records(result):
        for a in rec["translations"][0]["alignments"]:
            if a["status"] == "aligned":
                assert rec["translations"][0]["text"][a["start"] : a["end"]] == a["counterpart"]
    # what the 135M model writes decides whether a row survives; when one does, it is valid
    assert result.n_out == 0 or validate_path(result.records_path, "cultural").ok
    assert result.n_out + result.n_rejected >= 1


def test_translation_gates_reject_the_wrong_language_and_cut_generations(tmp_path):
    from dsbuild.llm.types import BackendReply

    sources = write_jsonl(
        tmp_path / "texts.jsonl",
        [
            {
                "id": "c",
                "text": "Break a leg tonight, and happy Thanksgiving to the whole team!",
                "segments": [{"surface": "Break a leg", "category": "idiom"}],
            }
        ],
    )
    fake = FakeLLM().enqueue(
        "Hals- und Beinbruch heute Abend, und frohes Erntedankfest an das ganze Team!",  # es-MX
        BackendReply(
            "¡Mucha suerte esta noche y feliz Día de Acción de Gracias a todo",
            "fake-model",
            None,
            "length",
        ),  # es-ES
        "¡Mucha suerte esta noche y feliz Día de Acción de Gracias a todo el equipo!",  # es-AR
        {"counterparts": ["Mucha suerte"]},
    )
    result = build(
        tmp_path,
        fake,
        sources=str(sources),
        locales=["es-MX", "es-ES", "es-AR"],
        llm_segments=False,
    )
    stages = by_stage(result)
    assert stages["langid_translation"].rejects_by_reason == {"wrong_language": 1}
    assert stages["hygiene_translation"].rejects_by_reason == {"truncated_generation": 1}
    assert stages["align"].n_out == 1
