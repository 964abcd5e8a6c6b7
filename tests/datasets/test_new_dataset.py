"""A dataset defined only in tests builds, validates, exports and goes through a Label
Studio round like the four built-in ones, through the same CLI: one spec and its modules,
nothing in the shared layers (issue 16)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import glossary  # noqa: E402
from glossary_fixtures import Definer  # noqa: E402

from dsbuild.testing import installed  # noqa: E402


def test_the_fifth_dataset_builds_validates_exports_and_states_its_stages(
    cli, registered, tmp_path
):
    run = tmp_path / "run"
    with installed(Definer()):
        code, out, err = cli(
            "glossary",
            "build",
            "-o",
            str(run),
            "--model",
            "fake:default",
            "--no-progress",
            "--terms",
            "ledger,quorum,estuary",
            "--option",
            "max_words=12",
        )
    assert code == 0, err
    rows = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]
    assert [r["term"] for r in rows] == ["ledger", "estuary"]
    assert [
        json.loads(line)["reason"] for line in (run / "rejects.jsonl").read_text().splitlines()
    ] == ["too_long"]
    assert (run / "export" / "glossary.jsonl").is_file()  # its own finalize
    # the stage plan comes from the builder; the help and the list show it
    code, out, _ = cli("glossary", "--help")
    assert "Stages: terms, define, hygiene_definition." in out
    code, out, _ = cli("list", "--json")
    assert [s["name"] for s in json.loads(out)["glossary"]["stages"]] == [
        "terms",
        "define",
        "hygiene_definition",
    ]
    # validate, stats
    code, out, _ = cli("glossary", "validate", str(run), "--json")
    assert code == 0 and json.loads(out)[0]["valid"] == 2
    code, out, _ = cli("glossary", "stats", str(run), "--json")
    assert json.loads(out)["tables"]["Terms"]["rows"] == [["ledger", 7], ["estuary", 7]]
    # options are validated like the built-in ones'
    code, _, err = cli("glossary", "build", "-o", str(tmp_path / "r2"), "--option", "max_wordz=3")
    assert code == 2 and "DSB104" in err and "max_words" in err
    # export: typed parquet, card from the dataset's own template
    code, out, err = cli("glossary", "export", str(run), "--out", str(tmp_path / "hf"))
    assert code == 0, err
    card = (tmp_path / "hf" / "README.md").read_text()
    assert (
        card.startswith("---")
        and "Glossary of terms (dsbuild test dataset)" in card
        and "2 rows" in card
    )
    import datasets

    loaded = datasets.load_dataset("parquet", data_dir=str(tmp_path / "hf" / "data"))
    assert sorted(r["term"] for split in loaded.values() for r in split) == ["estuary", "ledger"]


def test_the_fifth_dataset_has_a_label_studio_round(registered, tmp_path):
    from dsbuild.labelstudio.interfaces import interface_for
    from dsbuild.labelstudio.reconcile import reconcile_unit
    from dsbuild.labelstudio.tasks import to_task, units_of

    iface = interface_for(glossary.NAME)
    assert '<Choices name="verdict"' in iface.label_config
    record = {"id": "g0", "lang": "en", "term": "ledger", "definition": "A book of accounts."}
    [unit] = units_of([record], glossary.NAME)
    task = to_task(unit, glossary.NAME)
    assert task["data"]["term"] == "ledger" and task["data"]["definition"] == "A book of accounts."
    values = {"a": {"verdict": "right"}, "b": {"verdict": "right"}, "c": {"verdict": "wrong"}}
    merged, disagreements = reconcile_unit(glossary.NAME, unit, values, {"project": 1})
    assert merged["verdict"] == "right" and disagreements == [{"unit": "g0"}]
