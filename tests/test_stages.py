"""The builder contract: stage constructors, map result normalisation, builder checks."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from dsbuild.errors import DsbuildError
from dsbuild.stages import (
    Builder,
    Reject,
    Rejection,
    StageContext,
    batch_stage,
    map_stage,
    normalize_map_result,
    reject,
    source_stage,
)

REC = {"id": "r1", "text": "hello"}


def _src(ctx):
    yield REC


def _keep(rec, ctx):
    return True


async def _akeep(rec, ctx):
    return True


def _batch(records, ctx):
    return records, []


@pytest.mark.parametrize(
    "result, expected",
    [
        ({"id": "r1", "text": "HELLO"}, [{"id": "r1", "text": "HELLO"}]),
        ([{"id": "a"}, {"id": "b"}], [{"id": "a"}, {"id": "b"}]),
        ([], []),
        (True, [REC]),
        (reject("lang", "not en"), Rejection("lang", "not en")),
    ],
)
def test_normalize_map_result(result, expected):
    assert normalize_map_result(result, REC, "s") == expected


@pytest.mark.parametrize(
    "bad",
    # one way to reject: reject(reason); bare False and (False, reason) are refused
    [
        None,
        "text",
        3,
        {"text": "no id"},
        {"id": 5},
        [{"id": "a"}, "b"],
        reject(""),
        False,
        (False, "too_short"),
    ],
)
def test_normalize_rejects_bad_results_with_dsb205(bad):
    with pytest.raises(DsbuildError) as e:
        normalize_map_result(bad, REC, "mystage")
    assert e.value.code == "DSB205"
    assert "mystage" in str(e.value) and "r1" in str(e.value)


def test_constructors_set_kind_and_async():
    assert source_stage("s", _src).kind == "source"
    sync, asyn = map_stage("m", _keep), map_stage("a", _akeep, concurrency=8)
    assert (sync.kind, sync.is_async, sync.concurrency) == ("map", False, 1)
    assert (asyn.is_async, asyn.concurrency) == (True, 8)
    assert batch_stage("b", _batch).kind == "batch"
    with pytest.raises(dataclasses.FrozenInstanceError):
        sync.version = "2"  # type: ignore[misc]


@pytest.mark.parametrize("name", ["", "has space", "../up", "a/b"])
def test_stage_names_must_be_simple(name):
    with pytest.raises(DsbuildError):
        map_stage(name, _keep)


def test_concurrency_must_be_positive():
    with pytest.raises(DsbuildError):
        map_stage("m", _akeep, concurrency=0)


def test_builder_checks_its_stages():
    src, m = source_stage("s", _src), map_stage("m", _keep)
    with pytest.raises(DsbuildError, match="first stage must be a source"):
        Builder("b", "1", [m])
    with pytest.raises(DsbuildError, match="not first"):
        Builder("b", "1", [src, m, source_stage("s2", _src)])
    with pytest.raises(DsbuildError, match="duplicate"):
        Builder("b", "1", [src, m, map_stage("m", _keep)])
    with pytest.raises(DsbuildError, match="no stages"):
        Builder("b", "1", [])


def test_fingerprint_parts_hold_names_kinds_versions_not_code():
    b = Builder("b", "2", [source_stage("s", _src, version="3"), map_stage("m", _keep)])
    assert isinstance(b.stages, tuple)
    assert b.fingerprint_parts() == {
        "name": "b",
        "version": "2",
        "stages": [
            {"name": "s", "kind": "source", "version": "3"},
            {"name": "m", "kind": "map", "version": "1"},
        ],
    }


def test_description_defaults_to_docstring():
    def fn(rec, ctx):
        """Say hello."""
        return True

    assert map_stage("m", fn).description == "Say hello."


def test_reject_record():
    r = Reject("r1", "dedup", "duplicate", "same as r0")
    assert r.to_dict() == {
        "id": "r1",
        "stage": "dedup",
        "reason": "duplicate",
        "detail": "same as r0",
    }


def test_context_is_an_attribute_bag():
    llm = object()
    ctx = StageContext(
        config={"n": 1}, options={"k": 1}, runtime={"concurrency": 4}, seed=7, llm=llm
    )
    child = ctx.for_stage("translate")
    assert (
        child.llm is llm
        and child.config == {"n": 1}
        and child.options == {"k": 1}
        and child.runtime == {"concurrency": 4}
    )
    assert child.stage == "translate" and child.seed == 7
    assert isinstance(child.logger, logging.Logger)
    assert child.logger.name == "dsbuild.stage.translate"


def test_context_rng_depends_on_seed_stage_and_parts_only():
    a = StageContext(config={}, seed=1).for_stage("s")
    b = StageContext(config={}, seed=1).for_stage("s")
    assert a.rng("r1").random() == b.rng("r1").random()
    assert a.rng("r1").random() != a.rng("r2").random()
    assert a.rng("r1").random() != StageContext(config={}, seed=2).for_stage("s").rng("r1").random()
    assert a.rng("r1").random() != StageContext(config={}, seed=1).for_stage("t").rng("r1").random()
