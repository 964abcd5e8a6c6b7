"""Human annotation rounds in Label Studio: push a run's records, pull the annotations back.

Modules, each small and named for what it holds:

- `server`      start / wait / stop a local Label Studio (its own virtualenv), for
                `dsbuild labelstudio serve` and `make test`
- `client`      the SDK calls dsbuild makes, failing as one-line `ServiceError`s
- `hooks`       the protocol each dataset's annotation rounds implement
                (`dsbuild.<dataset>.rounds:ROUNDS`, its spec's `annotation` hook)
- `interfaces`  the labelling config (XML) and annotator instructions: building blocks
- `tasks`       records → keyed tasks with pre-annotations; spans checked at the boundary
- `results`     annotation results → one annotator's values
- `reconcile`   several annotators → reconciled records and disagreements
- `agreement`   agreement per field for a round
- `push`, `pull`, `state`  the round trip and what the run remembers of it

Nothing here names a dataset: what differs between datasets (interface, tasks, results,
reconciliation, agreement) is asked of `dsbuild.datasets.get(dataset).hook("annotation")`.
Nothing here imports the SDK at import time.
"""

from __future__ import annotations
