"""Annotation rounds in a real browser: Label Studio's own UI, driven by Playwright.

Debian's Chromium (`apt-get install chromium fonts-noto-cjk fonts-noto-color-emoji`, which
`make browser-setup`, part of `make test`, runs when it can) is launched through
`executable_path`: Playwright's own browser download is not needed. The test skips, saying
why, without Playwright, Chromium or the session's server.

What it proves, end to end through the UI and `annotate pull`:
- spans selected with the mouse in an answer holding an emoji and a CJK character outside
  the Basic Multilingual Plane and a combining mark come back as exact code-point offsets
  (the browser's DOM counts UTF-16 units; Label Studio 1.23's Text tag converts the selection
  to code points before it stores `start`/`end`: `fixCodePointsInRange` in its editor);
- a second annotator who works through "Label All Tasks" gets an annotation of their own,
  and the pull credits each annotator with their own spans;
- a task with fewer annotations than the overlap is listed as incomplete and left out of
  the reconciled records unless asked for (then marked);
- a cultural task rated with an NA comes back with exactly those ratings.
Screenshots of the four interfaces are written to the test's folder (printed).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest

from dsbuild.labelstudio.pull import pull_run
from dsbuild.labelstudio.push import push_run
from dsbuild.labelstudio.state import AnnotationState

pytestmark = [pytest.mark.labelstudio, pytest.mark.browser]

# An emoji and a CJK ideograph outside the BMP (two UTF-16 units each), a combining mark.
ANSWER = "Fire 🔥 rose to 6,100 m near 𠮷野家 in 東京, said Ame\u0301lie."
ADMIN_SPANS = ["6,100 m", "Ame\u0301lie"]  # the first right after the emoji
SECOND_SPAN = "東京"
PASSWORD = "Dsbuild-browser-1"


def _chromium() -> str:
    for candidate in (
        os.environ.get("DSBUILD_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.skip(
        "no Chromium: `apt-get install chromium fonts-noto-cjk fonts-noto-color-emoji` "
        "(make test does it as root) or set DSBUILD_CHROMIUM"
    )


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    executable = _chromium()
    with sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        except Exception as exc:  # noqa: BLE001 - a broken browser install is a skip reason
            pytest.skip(f"Chromium at {executable} does not start: {str(exc)[:200]}")
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots of the Label Studio interfaces: {folder}")
    return folder


def _sign_up(browser, url: str, email: str):
    """A new annotator signs up in the UI (the server allows it) and lands logged in; users
    made through the API have no password to log in with."""
    page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{url}/user/signup/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(lambda u: "/user/" not in u)
    return page


def _user_id(client, email: str) -> int:
    users = client._raw("GET", "api/users/", what="list users")
    return next(int(u["id"]) for u in users if u["email"] == email)


def _open_task(page, url: str, project: int, task: int) -> None:
    """Open a task from the project's task list (the Data Manager), as an annotator would."""
    page.goto(f"{url}/projects/{project}/data")
    rows = page.locator("[class*=table__row]")
    rows.first.wait_for()
    [row] = [r for r in rows.all() if r.inner_text().split()[:1] == [str(task)]]
    row.click()
    _buttons(page).wait_for()
    _dismiss_instructions(page)


def _dismiss_instructions(page) -> None:
    """Close the project's instructions, which Label Studio shows before the first task."""
    modal = page.locator(".lsf-modal-ls_visible")
    page.wait_for_timeout(800)
    if modal.count():
        page.screenshot(path=str(page.shots / "instructions.png"))
        page.keyboard.press("Escape")
        modal.first.wait_for(state="hidden")


def _buttons(page):
    """The Submit button of a new annotation, or Update of an existing one."""
    return (
        page.get_by_role("button", name="Submit")
        .or_(page.get_by_role("button", name="Update"))
        .first
    )


# Finds the text nodes of the editor's element that shows exactly `text` and returns the viewport
# rectangles of UTF-16 units [start, end) of it (DOM offsets are UTF-16 too).
_RECTS = """([text, start, end]) => {
  // the editor's rendering of a Text tag (lsf-richtext), not the task list beside it
  const owner = Array.from(document.querySelectorAll('[class*="lsf-richtext"]'))
    .find(el => el.textContent === text);
  if (!owner) return null;
  const nodes = [];
  const inner = document.createTreeWalker(owner, NodeFilter.SHOW_TEXT);
  for (let n = inner.nextNode(); n; n = inner.nextNode()) nodes.push(n);
  const at = (offset) => {
    let seen = 0;
    for (const n of nodes) {
      if (offset <= seen + n.length) return [n, offset - seen];
      seen += n.length;
    }
    return [nodes[nodes.length - 1], nodes[nodes.length - 1].length];
  };
  const range = document.createRange();
  const [a, ai] = at(start);
  const [b, bi] = at(end);
  range.setStart(a, ai);
  range.setEnd(b, bi);
  owner.scrollIntoView({block: 'center'});
  return Array.from(range.getClientRects()).map(r => [r.left, r.top, r.right, r.bottom]);
}"""


def _select(page, text: str, surface: str) -> None:
    """Select `surface` (its first occurrence in the displayed `text`) with the mouse."""
    start = len(text[: text.index(surface)].encode("utf-16-le")) // 2
    end = start + len(surface.encode("utf-16-le")) // 2
    # the label's own chip (`span.lsf-label`): `[class*=lsf-label]` would also match the whole
    # labeling view (`lsf-label-view`), whose text contains "Hallucination" too
    label = page.locator("span.lsf-label", has_text="Hallucination").first
    label.click()
    assert "lsf-label_selected" in (label.get_attribute("class") or "")
    highlights = page.locator("span.htx-highlight")
    before = highlights.count()
    rects = page.evaluate(_RECTS, [text, start, end])
    assert rects, f"the answer {text!r} is not on the page"
    left, top, _, bottom = rects[0]
    right = rects[-1][2]
    y = (top + bottom) / 2
    page.mouse.move(left + 0.5, y)
    page.mouse.down()
    page.mouse.move((left + right) / 2, y, steps=4)
    page.mouse.move(right - 0.5, y, steps=4)
    page.mouse.up()
    page.wait_for_timeout(300)
    assert highlights.count() > before, f"Label Studio made no region of {surface!r}"


def _submit(page) -> None:
    with page.expect_response(
        lambda r: "/annotations" in r.url and r.request.method in ("POST", "PATCH")
    ) as response:
        _buttons(page).click()
    assert response.value.ok, response.value.text()


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def test_annotation_rounds_in_a_real_browser(
    browser, shots, ls_client, ls_server, samples, make_run_dir
) -> None:
    started = time.monotonic()
    url, _ = ls_server
    tag = uuid.uuid4().hex[:8]
    first, second = f"first-{tag}@dsbuild.test", f"second-{tag}@dsbuild.test"
    page = _sign_up(browser, url, first)
    other = _sign_up(browser, url, second)
    page.shots = other.shots = shots
    first_id, second_id = _user_id(ls_client, first), _user_id(ls_client, second)

    # -- PsiloQA: two tasks, overlap 2 -----------------------------------------------------
    base = samples("psiloqa")[0]
    records = [
        {
            **base,
            "id": f"emoji-{tag}",
            "llm_answer": ANSWER,
            "labels": [],
            "annotated_span": ANSWER,
        },
        {**samples("psiloqa")[1], "id": f"plain-{tag}"},
    ]
    run = make_run_dir(records, "psiloqa")
    pushed = push_run(run, "psiloqa", ls_client, overlap=2)
    tasks = {k: v["id"] for k, v in ls_client.task_keys(pushed.project).items()}
    instructions = ls_client.get_project(pushed.project)["expert_instruction"]
    assert "Pre-selected" not in instructions  # no pre-annotations pushed, none mentioned

    _open_task(page, url, pushed.project, tasks[f"emoji-{tag}"])
    for surface in ADMIN_SPANS:
        _select(page, ANSWER, surface)
    page.screenshot(path=str(shots / "psiloqa.png"), full_page=True)
    _submit(page)
    plain = records[1]["llm_answer"]
    _open_task(page, url, pushed.project, tasks[f"plain-{tag}"])
    _select(page, plain, plain.split()[2])
    _submit(page)

    # the second annotator, the right way: "Label All Tasks" gives them their own annotation
    other.goto(f"{url}/projects/{pushed.project}/data?labeling=1")
    other.get_by_role("button", name="Submit").first.wait_for()
    _dismiss_instructions(other)
    shown = other.evaluate("() => document.body.innerText")
    assert "rose to" in shown, "the stream did not give the emoji task first"
    _select(other, ANSWER, SECOND_SPAN)
    _submit(other)

    summary = pull_run(run, "psiloqa", ls_client)
    folder = AnnotationState(run).pulls / f"{summary.pull:03d}"
    pulled = {r["id"]: r for r in _read(folder / "records.jsonl")}
    problems = _read(folder / "problems.jsonl")
    incomplete = _read(folder / "incomplete.jsonl")
    # every annotation parsed: no span refused for covering other text than Label Studio says
    assert problems == [], [p["message"] for p in problems]

    expected_first = [[ANSWER.index(s), ANSWER.index(s) + len(s)] for s in ADMIN_SPANS]
    expected_second = [[ANSWER.index(SECOND_SPAN), ANSWER.index(SECOND_SPAN) + len(SECOND_SPAN)]]
    got = pulled[f"emoji-{tag}"]
    print(
        f"\ncode-point offsets: {first} {got['annotations'].get(first)} (expected "
        f"{expected_first}), {second} {got['annotations'].get(second)} (expected "
        f"{expected_second})"
    )
    assert got["annotations"] == {first: expected_first, second: expected_second}
    assert [ANSWER[s:e] for s, e in got["annotations"][first]] == ADMIN_SPANS
    credited = {a["annotator"]: a["user_id"] for a in got["annotation"]["annotators"]}
    assert credited == {first: first_id, second: second_id}

    # the plain task has one annotation of the two the overlap asks for: listed, left out
    assert summary.problems == 0 and summary.edited == 0 and problems == []
    assert [(i["task"], i["annotations"], i["overlap"]) for i in incomplete] == [
        (tasks[f"plain-{tag}"], 1, 2)
    ]
    assert f"plain-{tag}" not in pulled and summary.incomplete == 1
    kept = pull_run(run, "psiloqa", ls_client, include_incomplete=True)
    records_kept = _read(AnnotationState(run).pulls / f"{kept.pull:03d}" / "records.jsonl")
    [plain_kept] = [r for r in records_kept if r["id"] == f"plain-{tag}"]
    assert plain_kept["annotation"]["incomplete"] is True
    assert set(plain_kept["annotations"]) == {first}

    # -- cultural: one task rated with an NA -----------------------------------------------
    record = samples("cultural")[0]
    record = {**record, "id": f"cult-{tag}", "translations": record["translations"][:1]}
    crun = make_run_dir([record], "cultural")
    cpushed = push_run(crun, "cultural", ls_client)
    [ctask] = ls_client.task_keys(cpushed.project).values()
    _open_task(page, url, cpushed.project, ctask["id"])
    page.get_by_text("NA — not translated", exact=False).first.click()
    for option in page.get_by_text("2 — good, needs light editing").all():
        option.click()
    page.screenshot(path=str(shots / "cultural.png"), full_page=True)
    _submit(page)
    csummary = pull_run(crun, "cultural", ls_client)
    [crecord] = _read(AnnotationState(crun).pulls / "001" / "records.jsonl")
    mine = [r for r in crecord["translations"][0]["ratings"] if r["annotator"] == first]
    assert {(r["nuance"], r["score"]) for r in mine} == {(0, "NA"), (None, 2)}
    [overall] = [r for r in mine if r["nuance"] is None]
    assert (overall["content"], overall["style"], overall["audience"]) == (2, 2, 2)
    assert csummary.problems == 0 and csummary.incomplete == 0

    # -- the two other interfaces render (screenshots) -------------------------------------
    for dataset in ("medrect", "entitycs"):
        one = [r for r in samples(dataset) if dataset != "entitycs" or r["language"] != "en"][:1]
        orun = make_run_dir(one, dataset)
        opushed = push_run(orun, dataset, ls_client)
        [otask] = ls_client.task_keys(opushed.project).values()
        _open_task(page, url, opushed.project, otask["id"])
        page.screenshot(path=str(shots / f"{dataset}.png"), full_page=True)
    print(f"\nbrowser round: {time.monotonic() - started:.1f} s; screenshots:")
    for name in sorted(p.name for p in shots.iterdir()):
        print(f"  {shots / name}")
    interfaces = {f"{d}.png" for d in ("psiloqa", "cultural", "medrect", "entitycs")}
    assert interfaces <= {p.name for p in shots.iterdir()}
