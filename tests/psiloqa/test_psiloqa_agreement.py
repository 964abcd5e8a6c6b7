from __future__ import annotations

import csv
import json
import random
import re
from itertools import combinations
from pathlib import Path

import pytest
from click.testing import CliRunner

from dsbuild.cli import main
from dsbuild.cli.app import app
from dsbuild.errors import InputError
from dsbuild.metrics.agreement import krippendorff_alpha
from dsbuild.psiloqa.agreement import binary_alpha, load_source, load_sources, measure, soft_items

# Three synthetic annotators of five answers.
#   i1 "abcdefghij": a marks cdef {2..5}, b efgh {4..7}, c abc {0,1,2}
#   i2 "no spans":   a, b nothing; c "no" {0,1}
#   i3 "Py 🐍 is 😀 fun" (code points: 🐍 is 3, 😀 is 8): a "🐍 is" {3..6}, b "🐍" {3}; not in c
#   i4 "hello world": a and c "world" {6..10}; b has "World" (a different text)
#   i5 "oops bad": a's tags are unbalanced; b, c nothing
EMOJI = "Py 🐍 is 😀 fun"
A_ROWS = [
    ("i1", "abcdefghij", "ab[HAL]cdef[/HAL]ghij"),
    ("i2", "no spans", "no spans"),
    ("i3", EMOJI, "Py [HAL]🐍 is[/HAL] 😀 fun"),
    ("i4", "hello world", "hello [HAL]world[/HAL]"),
    ("i5", "oops bad", "oops [HAL]bad"),
]
B_ROWS = [
    ("i1", "abcd[HAL]efgh[/HAL]ij"),
    ("i2", "no spans"),
    ("i3", "Py [HAL]🐍[/HAL] is 😀 fun"),
    ("i4", "hello [HAL]World[/HAL]"),
    ("i5", "oops bad"),
]
C_ITEMS = [
    ("i1", "abcdefghij", [[0, 3]]),
    ("i2", "no spans", [[0, 2]]),
    ("i4", "hello world", [[6, 11]]),
    ("i5", "oops bad", []),
]


def _psiloqa_row(rid, answer, marked):
    return {
        "id": rid,
        "lang": "en",
        "wiki_title": "T",
        "wiki_url": "https://en.wikipedia.org/wiki/T",
        "llm_checkpoint": "m1",
        "wiki_passage": "p",
        "question": f"q {rid}?",
        "golden_answer": "g",
        "llm_answer": answer,
        "annotated_span": marked,
        "complexity": None,
        "labels": [],
    }


@pytest.fixture
def synthetic(tmp_path) -> list[str]:
    a = tmp_path / "a.jsonl"
    a.write_text(
        "".join(json.dumps(_psiloqa_row(*r), ensure_ascii=False) + "\n" for r in A_ROWS), "utf-8"
    )
    b = tmp_path / "b.csv"  # the published study's shape: no llm_answer, no lang
    with open(b, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "id",
                "wiki_title",
                "wiki_url",
                "wiki_passage",
                "llm_checkpoint",
                "question",
                "golden_answer",
                "annotated_span",
                "meta",
            ]
        )
        for rid, marked in B_ROWS:
            w.writerow([rid, "T", "", "p", "m1", f"q {rid}?", "g", marked, ""])
    c = tmp_path / "c.jsonl"
    c.write_text(
        "".join(
            json.dumps(
                {
                    "id": rid,
                    "lang": "EN",
                    "model_input": f"q {rid}?",
                    "model_output_text": text,
                    "model_id": "m1",
                    "soft_labels": [{"start": s, "end": e, "prob": 1.0} for s, e in hard],
                    "hard_labels": hard,
                },
                ensure_ascii=False,
            )
            + "\n"
            for rid, text, hard in C_ITEMS
        ),
        "utf-8",
    )
    return [str(a), str(b), str(c)]


def _pair(report, a, b):
    return next(p for p in report.pairs if {p["a"], p["b"]} == {a, b})


def test_pairwise_iou_by_hand(synthetic):
    report = measure(load_sources(synthetic))
    ab, ac, bc = _pair(report, "a", "b"), _pair(report, "a", "c"), _pair(report, "b", "c")
    # a-b: i1 |{4,5}|/|{2..7}| = 2/6; i2 both empty = 1; i3 in code points |{3}|/|{3,4,5,6}| = 1/4
    #      (in UTF-16 units it would be 2/5); i4 left out (b's text differs), i5 (a's tags)
    assert ab["items"] == 3 and ab["iou"] == pytest.approx((2 / 6 + 1 + 1 / 4) / 3)
    assert ab["span_presence"] == 1.0
    # a-c: i1 |{2}|/|{0..5}| = 1/6; i2 a empty, c {0,1} = 0; i4 1; i3 missing from c
    assert ac["items"] == 3 and ac["iou"] == pytest.approx((1 / 6 + 0 + 1) / 3)
    assert ac["span_presence"] == pytest.approx(2 / 3)
    # b-c: i1 disjoint 0; i2 0; i5 both empty 1
    assert bc["items"] == 3 and bc["iou"] == pytest.approx(1 / 3)
    assert bc["span_presence"] == pytest.approx(2 / 3)
    per_source = {s["name"]: s for s in report.sources}
    assert per_source["a"]["items"] == 4 and per_source["a"]["left_out"] == 1
    assert per_source["b"]["items_with_span"] == 2 and per_source["b"]["left_out"] == 1
    # c: 3 + 2 + 5 marked of 10 + 8 + 11 + 8 characters
    assert per_source["c"]["share_marked"] == pytest.approx(10 / 37)
    assert per_source["c"]["format"] == "mushroom" and per_source["b"]["format"] == "psiloqa"


def test_missing_ids_and_problems_are_reported_per_item(synthetic):
    report = measure(load_sources(synthetic))
    assert report.items == 5 and report.complete == 2  # i1, i2
    assert report.missing == [{"id": "i3", "sources": ["c"]}]
    by_id = {p["id"]: p for p in report.problems}
    assert set(by_id) == {"i4", "i5"}
    mismatch = by_id["i4"]
    assert mismatch["source"] == "b" and mismatch["kind"] == "text_mismatch"
    assert mismatch["at"] == 6 and mismatch["against"] == ["a", "c"]
    assert by_id["i5"]["source"] == "a" and by_id["i5"]["kind"] == "markers"
    item4 = next(i for i in report.per_item if i["id"] == "i4")
    assert item4["sources"] == ["a", "c"] and item4["iou"] == [{"a": "a", "b": "c", "iou": 1.0}]


def test_llm_answer_mismatch_leaves_the_item_out(tmp_path):
    a, b = tmp_path / "x.jsonl", tmp_path / "y.jsonl"
    a.write_text(json.dumps(_psiloqa_row("k", "the cat", "the [HAL]dog[/HAL]")) + "\n", "utf-8")
    b.write_text(json.dumps(_psiloqa_row("k", "the cat", "the [HAL]cat[/HAL]")) + "\n", "utf-8")
    report = measure(load_sources([a, b]))
    assert report.problems[0]["kind"] == "llm_answer_mismatch" and report.problems[0]["at"] == 4
    assert report.pairs[0]["items"] == 0 and report.pairs[0]["iou"] is None


def test_nested_tags_are_reported_not_raised(tmp_path):
    a, b = tmp_path / "x.csv", tmp_path / "y.csv"
    a.write_text("id,annotated_span\nk,[HAL]the [HAL]cat[/HAL][/HAL]\nm,ok\n", "utf-8")
    b.write_text("id,annotated_span\nk,the cat\nm,ok\n", "utf-8")
    report = measure(load_sources([a, b]))
    assert [(p["id"], p["source"], p["kind"]) for p in report.problems] == [("k", "x", "markers")]
    assert "nested" in report.problems[0]["message"]
    assert report.pairs[0]["items"] == 1 and report.pairs[0]["iou"] == 1.0


def _alpha_table(texts, marks):
    """Units x coders table written out by hand: one row per character, None where absent."""
    table = []
    for rid, text in texts.items():
        coders = marks[rid]
        for i in range(len(text)):
            table.append([None if chars is None else int(i in chars) for chars in coders])
    return table


def test_alpha_equals_the_library_on_the_synthetic_sources(synthetic):
    report = measure(load_sources(synthetic))
    # the characters each source counts for (None: absent or left out), in order a, b, c
    texts = {
        "i1": "abcdefghij",
        "i2": "no spans",
        "i3": EMOJI,
        "i4": "hello world",
        "i5": "oops bad",
    }
    marks = {
        "i1": [{2, 3, 4, 5}, {4, 5, 6, 7}, {0, 1, 2}],
        "i2": [set(), set(), {0, 1}],
        "i3": [{3, 4, 5, 6}, {3}, None],
        "i4": [set(range(6, 11)), None, set(range(6, 11))],
        "i5": [None, set(), set()],
    }
    expected = krippendorff_alpha(_alpha_table(texts, marks), "nominal")
    assert report.alpha["value"] == pytest.approx(expected)
    assert report.alpha["characters"] == 10 + 8 + len(EMOJI) + 11 + 8 and report.alpha["items"] == 5
    ab = [[a, b] for a, b, _c in _alpha_table(texts, marks)]
    assert _pair(report, "a", "b")["alpha"] == pytest.approx(krippendorff_alpha(ab, "nominal"))


def test_binary_alpha_hand_computed():
    # o11 = 2, o00 = 2 + 2, o01 = o10 = 1; n1 = 3, n0 = 5, n = 8; alpha = 1 - 7 * 1 / 15
    table = [[1, 1], [0, 0], [1, 0], [0, 0], [1, None]]
    assert binary_alpha(table) == pytest.approx(8 / 15)
    assert krippendorff_alpha(table, "nominal") == pytest.approx(8 / 15)
    assert binary_alpha([[0, 0], [0, 0]]) != binary_alpha([[0, 0], [0, 0]])  # NaN: one value only


def test_binary_alpha_equals_the_library_on_random_tables():
    rng = random.Random(7)
    for _ in range(30):
        coders = rng.randint(2, 5)
        table = [
            [rng.choice([0, 1, 1, None]) for _ in range(coders)] for _ in range(rng.randint(3, 40))
        ]
        expected = krippendorff_alpha(table, "nominal")
        got = binary_alpha(table)
        assert got == pytest.approx(expected, nan_ok=True)


def test_binary_alpha_against_the_krippendorff_package():
    krippendorff = pytest.importorskip("krippendorff")
    import numpy as np

    rng = random.Random(3)
    table = [[rng.choice([0, 1, None]) for _ in range(4)] for _ in range(60)]
    data = np.array([[np.nan if v is None else v for v in row] for row in table]).T
    assert binary_alpha(table) == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    )


def test_soft_labels_file_validates(synthetic, tmp_path):
    out = tmp_path / "soft.jsonl"
    result = CliRunner().invoke(
        app, ["psiloqa", "agreement", *synthetic, "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["out"] == {"path": str(out), "items": 5}
    items = {i["id"]: i for i in map(json.loads, out.read_text("utf-8").splitlines())}
    one = items["i1"]
    # counts per character over a, b, c: 0:1 1:1 2:2 3:1 4:2 5:2 6:1 7:1
    third, two_thirds = 1 / 3, 2 / 3
    assert one["soft_labels"] == [
        {"start": 0, "end": 2, "prob": third},
        {"start": 2, "end": 3, "prob": two_thirds},
        {"start": 3, "end": 4, "prob": third},
        {"start": 4, "end": 6, "prob": two_thirds},
        {"start": 6, "end": 8, "prob": third},
    ]
    assert one["hard_labels"] == [[2, 3], [4, 6]]
    assert one["annotations"] == {"a": [[2, 6]], "b": [[4, 8]], "c": [[0, 3]]}
    assert one["lang"] == "EN" and one["model_input"] == "q i1?" and one["model_id"] == "m1"
    # i3: a and b only; 🐍 marked by both (1.0), " is" by a alone (0.5, not a hard label)
    assert items["i3"]["soft_labels"] == [
        {"start": 3, "end": 4, "prob": 1.0},
        {"start": 4, "end": 7, "prob": 0.5},
    ]
    assert items["i3"]["hard_labels"] == [[3, 4]] and items["i3"]["model_output_text"] == EMOJI
    assert items["i4"]["annotations"] == {"a": [[6, 11]], "c": [[6, 11]]}
    result = CliRunner().invoke(app, ["psiloqa", "validate", str(out)])
    assert result.exit_code == 0, result.output


def test_soft_items_lang_default(tmp_path):
    a, b = tmp_path / "p.csv", tmp_path / "q.csv"
    for path in (a, b):
        path.write_text("id,annotated_span\nz,[HAL]x[/HAL]y\n", "utf-8")
    sources = load_sources([a, b])
    assert [i["lang"] for i in soft_items(measure(sources), sources, lang="de")] == ["DE"]


def test_run_directory_and_name_clash(tmp_path, synthetic):
    run = tmp_path / "run1"
    run.mkdir()
    rows = [_psiloqa_row("i1", "abcdefghij", "[HAL]abc[/HAL]defghij")]
    (run / "records.jsonl").write_text(json.dumps(rows[0]) + "\n", "utf-8")
    other = tmp_path / "sub"
    other.mkdir()
    (other / "a.jsonl").write_text(Path(synthetic[0]).read_text("utf-8"), "utf-8")
    sources = load_sources([synthetic[0], str(other / "a.jsonl"), str(run)])
    assert [s.name for s in sources] == [f"{tmp_path.name}/a", "sub/a", "run1"]
    report = measure(sources)
    pair = _pair(report, f"{tmp_path.name}/a", "run1")
    assert pair["items"] == 1 and pair["iou"] == pytest.approx(1 / 6)  # {2..5} vs {0,1,2}


def test_errors_are_one_line_input_errors(tmp_path, synthetic, capsys):
    with pytest.raises(InputError) as exc:
        load_sources(synthetic[:1])
    assert exc.value.code == "DSB301"
    assert main(["psiloqa", "agreement", synthetic[0], str(tmp_path / "nope.csv")]) == 3
    assert "DSB301" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "annotated_span": "a"}\n{"id": \n', "utf-8")
    with pytest.raises(InputError) as exc:
        load_source(bad)
    assert exc.value.code == "DSB303" and "bad.jsonl:2" in str(exc.value)
    other = tmp_path / "other.csv"
    other.write_text("id,text\n1,hello\n", "utf-8")
    with pytest.raises(InputError) as exc:
        load_source(other)
    assert exc.value.code == "DSB302"
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(InputError) as exc:
        load_source(empty_dir)
    assert exc.value.code == "DSB204"


def test_table_output(synthetic, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["psiloqa", "agreement", *synthetic])
    assert result.exit_code == 0, result.output
    assert "Krippendorff's alpha" in result.output and "both/neither" in result.output
    assert "i4 [b] text_mismatch" in result.output and "i3: not in c" in result.output


def test_help_explains_the_use():
    result = CliRunner().invoke(app, ["psiloqa", "agreement", "--help"])
    assert "LLM annotator" in result.output and "IoU" in result.output


# ---------------------------------------------------------------------------------------
# The published consistency study (excerpts): checked against a small regex of our own.

_TAG = re.compile(r"\[HAL\](.*?)\[/HAL\]", re.S)
STUDY = ("gpt", "1_annotator", "2_annotator", "3_annotator")


def _regex_chars(marked: str) -> set[int]:
    chars: set[int] = set()
    removed = 0
    for m in _TAG.finditer(marked):
        start = m.start() - removed
        chars.update(range(start, start + len(m.group(1))))
        removed += len("[HAL]") + len("[/HAL]")
    return chars


def _regex_iou(x: set[int], y: set[int]) -> float:
    return 1.0 if not x and not y else len(x & y) / len(x | y)


@pytest.mark.fixtures
def test_cli_on_the_published_excerpts(shared_fixtures):
    folder = shared_fixtures / "psiloqa-eval"
    paths = [folder / f"{name}.excerpt10.csv" for name in STUDY]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"the PsiloQA study excerpts are not in {folder}")
    marks = {}
    for name, path in zip(STUDY, paths):
        with open(path, encoding="utf-8", newline="") as f:
            marks[f"{name}.excerpt10"] = {
                r["id"]: _regex_chars(r["annotated_span"]) for r in csv.DictReader(f)
            }
    result = CliRunner().invoke(app, ["psiloqa", "agreement", *map(str, paths), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (
        out["items"] == 10 and out["complete"] == 10 and not out["problems"] and not out["missing"]
    )
    per_item = {i["id"]: {(p["a"], p["b"]): p["iou"] for p in i["iou"]} for i in out["per_item"]}
    for rid in (
        "psiloqa_ServiceNow-AI/Apriel-5B-Instruct_5332",
        "psiloqa_tiiuae/falcon-7b-instruct_16567",
    ):
        for a, b in combinations(marks, 2):
            assert per_item[rid][a, b] == pytest.approx(_regex_iou(marks[a][rid], marks[b][rid]))
    # the falcon item, by hand: gpt marks "Clinical child and adolescent psychology" (0-39),
    # annotator 1 "Clinical child and adolescent" (0-28), 2 and 3 nothing
    falcon = per_item["psiloqa_tiiuae/falcon-7b-instruct_16567"]
    assert falcon["gpt.excerpt10", "1_annotator.excerpt10"] == pytest.approx(29 / 40)
    assert falcon["gpt.excerpt10", "2_annotator.excerpt10"] == 0.0
    assert falcon["2_annotator.excerpt10", "3_annotator.excerpt10"] == 1.0
    for pair in out["pairs"]:
        a, b = pair["a"], pair["b"]
        ious = [_regex_iou(marks[a][rid], marks[b][rid]) for rid in marks[a]]
        assert pair["iou"] == pytest.approx(sum(ious) / len(ious))
