"""Export a run as a Hub-ready Hugging Face dataset folder, with its data card, and publish it.

    rundata   what a run directory holds (records, rejects, run.json, config)
    rows      run records -> table rows of one type per column (per dataset)
    features  the explicit `datasets.Features` of those rows
    splits    deterministic, grouped train/validation/test assignment
    summary   statistics for the card (per language and split, labels, rejects, agreement)
    licenses  the licence of an export, computed from where its text came from
    card      README.md: Hub YAML front matter + the dataset's template in `data_cards/`
    folder    writes the folder (Parquet shards, JSONL/CSV, original format) and checks it
    publish   uploads a checked folder with `huggingface_hub`

`datasets` and `huggingface_hub` are imported inside the functions that need them.
"""

from __future__ import annotations

from dsbuild.hub.folder import ExportResult, export_run, validate_folder
from dsbuild.hub.publish import PublishPlan, plan_upload, publish_folder

__all__ = [
    "ExportResult",
    "PublishPlan",
    "export_run",
    "plan_upload",
    "publish_folder",
    "validate_folder",
]
