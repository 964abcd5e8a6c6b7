"""`psiloqa detect`: models mark the hallucinated spans of answers, as a Mu-SHROOM prediction.

Each model copies the answer with `[HAL]…[/HAL]` tags around what it finds unsupported
(given the question, and the passage with `with_context`), through the copy-with-tags
mechanism of the builder's annotate stage: grammar backends can only copy the answer with
balanced tags between its pieces, the engine checks every copy (a broken one gets repair
turns), and the strict parser (`dsbuild.psiloqa.annotation`) turns the tags into offsets
or refuses the answer. `samples` answers per model (sampled at
`temperature` when more than one) and several models give soft labels: per character, the
share of usable answers that mark it; hard labels are the characters above 0.5, as the
Mu-SHROOM release derives them. An answer that breaks the copy counts for nothing (it is
listed under `prediction.failed`); an item no answer was usable for is predicted empty.

    read_items(paths)      Mu-SHROOM items of Mu-SHROOM files, PsiloQA rows, run directories
    make_task(paths, ...)  the `ModelTask` (dsbuild.model_run)
    prediction_item(...)   the Mu-SHROOM item of one answer's samples
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["make_task", "prediction_item", "read_items", "soft_and_hard", "write_predictions"]


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        if (path / "records.jsonl").is_file():
            return [path / "records.jsonl"]
        files = sorted(p for p in path.iterdir() if p.suffix in (".jsonl", ".json"))
        if not files:
            from dsbuild.errors import InputError

            raise InputError(
                f"{path} holds no records.jsonl and no .jsonl/.json file",
                "give Mu-SHROOM or PsiloQA files, a folder of them, or a run directory",
                code="DSB301",
            )
        return files
    return [path]


def read_items(paths: Sequence[str | Path], warnings: Any = None) -> list[dict[str, Any]]:
    """The Mu-SHROOM items of every file (a folder: its .jsonl/.json files; a run directory:
    its records); PsiloQA rows are converted, their passage kept under `psiloqa`. An id
    found twice is an error."""
    from dsbuild.errors import InputError
    from dsbuild.psiloqa.mushroom import read_labelled, row_to_mushroom

    out: list[dict[str, Any]] = []
    seen: dict[str, Path] = {}
    for given in paths:
        for path in _files(Path(given)):
            if not path.is_file():
                raise InputError(f"input file {path} not found", "check the path", code="DSB301")
            fmt, records = read_labelled(path, warnings)
            for r in records:
                item = r if fmt == "mushroom" else row_to_mushroom(r)
                rid = str(item["id"])
                if rid in seen:
                    raise InputError(
                        f"id {rid!r} is in {seen[rid]} and again in {path}",
                        "give each item once",
                        code="DSB303",
                    )
                seen[rid] = path
                out.append(item)
    return out


def soft_and_hard(
    samples: Sequence[Sequence[Sequence[int]]], n: int
) -> tuple[list[dict[str, Any]], list[list[int]]]:
    """Soft labels (share of the samples marking each character) and hard labels (share
    above 0.5) of the usable samples' spans; none usable: both empty."""
    from dsbuild.span_labels import hard_from_soft, soft_from_annotations

    if not samples:
        return [], []
    soft = soft_from_annotations([list(s) for s in samples], n)
    return soft, hard_from_soft(soft)


def prediction_item(
    item: dict[str, Any], answers: dict[str, list[list[int]] | None], provenance: list[dict]
) -> dict[str, Any]:
    """The Mu-SHROOM prediction item: `answers` maps `model#sample` to its spans (None: the
    answer was unusable)."""
    text = item["model_output_text"]
    usable = {k: v for k, v in answers.items() if v is not None}
    soft, hard = soft_and_hard(list(usable.values()), len(text))
    return {
        "id": str(item["id"]),
        "lang": item.get("lang", ""),
        "model_input": item.get("model_input", ""),
        "model_output_text": text,
        "soft_labels": soft,
        "hard_labels": hard,
        "prediction": {
            "models": ", ".join(sorted({p["model"] for p in provenance})),
            "annotations": usable,
            "failed": sorted(k for k, v in answers.items() if v is None),
            "provenance": provenance,
        },
    }


def make_task(
    paths: Sequence[str | Path],
    *,
    models: Sequence[str | None],
    samples: int = 1,
    temperature: float = 0.7,
    with_context: bool = False,
    prompts_dir: str | Path | None = None,
    limit: int | None = None,
    languages: Sequence[str] = (),
    per_language: int | None = None,
    ids: Sequence[str] | None = None,
    warnings: Any = None,
):
    """The `ModelTask` marking the spans of every item of `paths` (see the module doc);
    `ids`: only the items with these ids (e.g. those a leaderboard scores)."""
    from dsbuild.builder_kit import per_language as pick
    from dsbuild.builder_kit import response_format
    from dsbuild.languages import language_name
    from dsbuild.llm.prompts import load_prompts
    from dsbuild.model_run import ModelTask, file_digest, ids_digest

    template = load_prompts("psiloqa", prompts_dir)["detect"]
    models = list(models) or [None]
    wanted = {lang.lower() for lang in languages}
    keep = None if ids is None else {str(i) for i in ids}
    items = list(
        pick(
            (i for i in read_items(paths, warnings) if keep is None or str(i["id"]) in keep),
            wanted,
            per_language,
            limit,
            lang_of=lambda i: str(i.get("lang") or "").lower(),
        )
    )

    async def detect(item: dict, ctx: Any) -> dict:
        """Spans marked by each model and sample, as soft and hard labels."""
        from dsbuild.llm.structured import copy_of
        from dsbuild.psiloqa.annotation import AnnotationError, broken_copy, parse_annotation
        from dsbuild.spans import HAL_CLOSE, HAL_OPEN

        answer = item["model_output_text"]
        passage = (item.get("psiloqa") or {}).get("wiki_passage") or ""
        context = f"Passage:\n{passage}\n\n" if with_context and passage else ""
        fmt = response_format(
            template, replace={"annotated_answer": copy_of(answer, (HAL_OPEN, HAL_CLOSE))}
        )
        answers: dict[str, list[list[int]] | None] = {}
        provenance = []
        for m in models:
            engine = ctx.llm.get(m)
            label = ctx.llm.spec_label(m)
            for k in range(samples):
                messages = template.render(
                    language=language_name(str(item.get("lang") or "en").lower()),
                    question=item.get("model_input", ""),
                    context=context,
                    answer=answer,
                )
                result = await engine.complete(
                    engine.request(
                        messages,
                        response_format=fmt,
                        sampling={
                            "temperature": temperature if samples > 1 else 0.0,
                            "seed": ctx.seed + k,
                            "max_tokens": 64 + len(answer),
                        },
                        sample_index=k,
                        id=f"{item['id']}#{k}",
                        template=template,
                    )
                )
                result.raise_if_pending("detect")
                key = f"{label}#{k}"
                provenance.append(
                    {
                        "model": label,
                        "sample": k,
                        "passage_shown": bool(context),
                        **result.provenance(),
                    }
                )
                spans = None
                if result.ok:
                    try:
                        spans = [
                            list(s)
                            for s in parse_annotation(result.json["annotated_answer"], answer)
                        ]
                    except AnnotationError as exc:
                        provenance[-1]["error"] = {"reason": exc.reason, "detail": exc.detail}
                else:
                    broken = broken_copy(result, answer)  # the repair turns did not mend it
                    provenance[-1]["error"] = (
                        {"reason": broken.reason, "detail": broken.detail}
                        if broken is not None
                        else result.error
                    )
                answers[key] = spans
        return prediction_item(item, answers, provenance)

    return ModelTask(
        name="psiloqa-detect",
        version=template.stage_version(),
        read=lambda: iter(items),
        predict=detect,
        config={
            "inputs": [str(Path(p).resolve()) for p in paths],
            "inputs_sha256": [file_digest(p) for p in paths],
            "detectors": list(models),
            "samples": samples,
            "temperature": temperature if samples > 1 else 0.0,
            "with_context": with_context,
            "languages": sorted(wanted),
            "per_language": per_language,
            "limit": limit,
            "prompt": template.hash,
            **({} if keep is None else {"ids_sha256": ids_digest(keep)}),
        },
        models=tuple(models),
        description="hallucinated spans marked by each detector and sample",
    )


def write_predictions(records: list[dict[str, Any]], out: str | Path) -> int:
    """The Mu-SHROOM prediction items as JSONL (the run's records are those items)."""
    from dsbuild.builder_kit import write_records

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    return write_records(out, records)
