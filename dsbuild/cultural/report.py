"""The analysis as charts (PNG) and one self-contained HTML page (PNGs inlined as base64).

`write_report(result, folder)` takes what `dsbuild.cultural.analysis.analyze` returns and
writes `heatmap.png` (model x language mean overall rating), `categories.png` (mean segment
rating per category and model), `omission.png` (share of NA by category and by model) and
`report.html` (every figure as a table too: by model, language and locale, by category under
both NA conventions, agreement under both, and the reading counts). matplotlib (Agg backend,
no display needed) is imported only here.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any

from dsbuild.errors import InputError

__all__ = ["CHARTS", "write_report"]

CHARTS = ("heatmap", "categories", "omission")


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise InputError(
            "the report's charts need matplotlib",
            "pip install matplotlib, or run analyze without --report",
            code="DSB301",
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    os.replace(tmp, path)
    return path


def _heatmap(plt, result: dict[str, Any], path: Path) -> Path:
    matrix = result["model_by_language"]
    models = sorted(matrix)
    langs = sorted({lang for row in matrix.values() for lang in row})
    values = [[matrix[m].get(lang) for lang in langs] for m in models]
    fig, ax = plt.subplots(figsize=(1.6 + 1.2 * len(langs), 1.2 + 0.6 * len(models)))
    grid = [[float("nan") if v is None else v for v in row] for row in values]
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=3, aspect="auto")
    ax.set_xticks(range(len(langs)), labels=langs)
    ax.set_yticks(range(len(models)), labels=models)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            ax.text(j, i, "–" if v is None else f"{v:.2f}", ha="center", va="center", fontsize=10)
    fig.colorbar(image, ax=ax, label="mean overall rating (0-3)")
    ax.set_title("Overall quality by model and language")
    path = _save(fig, path)
    plt.close(fig)
    return path


def _grouped_bars(
    ax, groups: list[str], series: dict[str, dict[str, Any]], ylabel: str, ymax: float
) -> None:
    width = 0.8 / max(1, len(series))
    for s, (name, values) in enumerate(series.items()):
        xs = [g + s * width - 0.4 + width / 2 for g in range(len(groups))]
        ax.bar(xs, [values.get(g) or 0 for g in groups], width, label=name)
    ax.set_xticks(range(len(groups)), labels=[g.replace("_", " ") for g in groups])
    ax.set_ylim(0, ymax)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)


def _categories(plt, result: dict[str, Any], path: Path) -> Path:
    cats = list(result["by_category"])
    series = {
        "all models": {c: v["segment"] for c, v in result["by_category"].items()},
        **result["model_by_category"],
    }
    fig, ax = plt.subplots(figsize=(2 + 1.6 * len(cats), 3.6))
    _grouped_bars(ax, cats, series, "mean segment rating (0-3)", 3)
    ax.set_title(f"Segments by category ({result['na_convention']})", fontsize=10)
    path = _save(fig, path)
    plt.close(fig)
    return path


def _omission(plt, result: dict[str, Any], path: Path) -> Path:
    om = result["omission"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key, title in ((left, "by_category", "by category"), (right, "by_model", "by model")):
        names = list(om[key])
        ax.bar(range(len(names)), [100 * (om[key][n] or 0) for n in names], color="#b55")
        ax.set_xticks(range(len(names)), labels=[n.replace("_", " ") for n in names], fontsize=8)
        ax.set_ylabel("% of segment ratings that are NA")
        ax.set_title(f"Not translated (NA), {title}", fontsize=10)
    path = _save(fig, path)
    plt.close(fig)
    return path


def _table(columns: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "–"
        return f"{v:.3f}" if isinstance(v, float) else html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _group_table(groups: dict[str, dict[str, Any]], label: str, omission: dict[str, Any]) -> str:
    cols = ["overall", "content", "style", "audience", "segment"]
    rows = [
        [
            name,
            *(g.get(c) for c in cols),
            omission.get(name),
            g.get("full_text_n"),
            g.get("segment_n"),
        ]
        for name, g in groups.items()
    ]
    return _table(
        [
            label,
            "overall",
            "content",
            "style",
            "audience",
            "segment mean",
            "omission rate",
            "full-text ratings",
            "segment ratings",
        ],
        rows,
    )


def render_html(result: dict[str, Any], images: dict[str, Path], title: str) -> str:
    """The HTML page: tables of every figure and the charts inlined."""
    om = result["omission"]
    counts = result["counts"]
    overall = result["overall_mean"] if result["overall_mean"] is not None else "–"
    read = result.get("read") or {}
    reasons = ", ".join(
        f"{html.escape(k)} {v}" for k, v in (read.get("excluded_by_reason") or {}).items()
    )
    read_line = ""
    if read.get("rows_read") is not None:
        units = read.get("units") or {}
        read_line = (
            f"<p>Read as {html.escape(str(read.get('layout')))}: {read['rows_read']} rows read, "
            f"{read.get('empty_rows_skipped', 0)} empty rows skipped, "
            f"{read.get('excluded', 0)} ratings or "
            f"rows excluded{f' ({reasons})' if reasons else ''}; {read.get('raters')} raters; "
            f"{units.get('full_text')} full-text units, {units.get('segments')} segment units.</p>"
        )
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        read_line,
        (
            f"<p>{counts['rows']} rows: {counts['texts']} texts, {counts['models']} models, "
            f"{counts['languages']} languages, {counts['raters']} raters; "
            f"{counts['full_text_ratings']} full-text and "
            f"{counts['segment_ratings']} segment ratings ({counts['na_ratings']} NA), "
            f"{counts['missing_segment_ratings']} missing segment ratings.</p>"
        ),
        (
            f"<p><b>Mean overall quality: {overall} / 3.</b> Segment means: "
            f"{html.escape(result['na_convention'])}; "
            "omission rates (share of NA) are shown separately.</p>"
        ),
    ]
    for name, heading in (
        ("heatmap", "Model × language"),
        ("categories", "Categories"),
        ("omission", "Omissions"),
    ):
        if name in images:
            data = base64.b64encode(images[name].read_bytes()).decode("ascii")
            parts.append(f"<h2>{heading}</h2><img alt='{name}' src='data:image/png;base64,{data}'>")
    parts.append("<h2>By model</h2>" + _group_table(result["by_model"], "model", om["by_model"]))
    parts.append(
        "<h2>By language</h2>" + _group_table(result["by_language"], "language", om["by_language"])
    )
    if "by_locale" in result:
        parts.append(
            "<h2>By locale</h2>"
            + _group_table(result["by_locale"], "locale", om.get("by_locale", {}))
        )
    both = result.get("by_category_na") or {result["na"]: result["by_category"]}
    zero, excl = both.get("zero", {}), both.get("exclude", {})
    parts.append(
        "<h2>By category</h2>"
        + _table(
            [
                "category",
                "segment mean, NA as 0",
                "segment mean, NA excluded",
                "omission rate",
                "segment ratings",
            ],
            [
                [
                    c,
                    zero.get(c, {}).get("segment"),
                    excl.get(c, {}).get("segment"),
                    om["by_category"].get(c),
                    zero.get(c, v)["segment_n"],
                ]
                for c, v in result["by_category"].items()
            ],
        )
    )
    stats = [
        "alpha_ordinal",
        "alpha_interval",
        "alpha_nominal",
        "ac2_ordinal",
        "fleiss_kappa",
        "units",
        "ratings",
    ]
    rows = []
    for conv, ag in (result.get("agreement_by_na") or {result["na"]: result["agreement"]}).items():
        rows += [
            [f"NA {conv}: full text {k}", *(v[s] for s in stats)]
            for k, v in ag["full_text"].items()
        ]
        rows += [
            [f"NA {conv}: segments {k}", *(v[s] for s in stats)] for k, v in ag["segments"].items()
        ]
    parts.append(
        "<h2>Inter-rater agreement</h2>"
        + _table(
            [
                "scope",
                "Krippendorff α (ordinal)",
                "α (interval)",
                "α (nominal)",
                "Gwet AC2 (ordinal)",
                "Fleiss κ",
                "units",
                "ratings",
            ],
            rows,
        )
    )
    parts.append(
        "<p>Nominal statistics treat NA as a category; ordinal and interval ones follow the NA "
        "convention of their row (NA as 0, or NA excluded). Units rated by fewer than two raters "
        "are not pairable and are left out.</p>"
    )
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;"
        "text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def write_report(
    result: dict[str, Any], folder: str | Path, title: str = "Cultural-nuance ratings"
) -> dict[str, Path]:
    """Write the three PNG charts and report.html into `folder`; returns name -> path."""
    plt = _pyplot()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images: dict[str, Path] = {}
    if result["model_by_language"]:
        images["heatmap"] = _heatmap(plt, result, folder / "heatmap.png")
    if result["by_category"]:
        images["categories"] = _categories(plt, result, folder / "categories.png")
        images["omission"] = _omission(plt, result, folder / "omission.png")
    page = folder / "report.html"
    tmp = page.with_name(f".{page.name}.tmp")
    tmp.write_text(render_html(result, images, title), encoding="utf-8")
    os.replace(tmp, page)
    return {**images, "html": page}
