"""Entity masking over a real fast tokenizer's offsets (trained offline in the test)."""

from __future__ import annotations

import random

import pytest

from dsbuild.codeswitch import EntityLink, switch
from dsbuild.masking import entity_token_indices, mask_entities

tokenizers = pytest.importorskip("tokenizers")

LABELS = {"Q1653": {"de": "Donau"}, "Q166": {"de": "Schwarzes Meer"}}
ROW = switch(
    "s1",
    "The Danube flows into the Black Sea near Tulcea.",
    [EntityLink(4, 10, "Danube", "Q1653"), EntityLink(26, 35, "Black Sea", "Q166")],
    LABELS,
    "de",
)


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=200, special_tokens=["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    )
    corpus = [ROW["cs_sentence"], ROW["en_sentence"], "Die Donau fließt ins Schwarze Meer."] * 20
    tok.train_from_iterator(corpus, trainer)
    return tok


def spans(row):
    return [(e["cs_start"], e["cs_end"]) for e in row["entities"]]


def test_tokens_of_each_entity_found_from_offsets(tokenizer):
    enc = tokenizer.encode(ROW["cs_sentence"])
    groups = entity_token_indices(enc.offsets, spans(ROW))
    text = ROW["cs_sentence"]
    assert len(groups) == len(spans(ROW)) == 2  # Donau, Schwarzes Meer
    for (s, e), toks in zip(spans(ROW), groups):
        assert toks
        covered = "".join(text[enc.offsets[i][0] : enc.offsets[i][1]] for i in toks)
        assert covered.replace(" ", "") == text[s:e].replace(" ", "")


def test_whole_entity_masking_masks_exactly_the_entity_tokens(tokenizer):
    enc = tokenizer.encode(ROW["cs_sentence"])
    mask_id = tokenizer.token_to_id("[MASK]")
    ids, labels = mask_entities(
        enc.ids,
        enc.offsets,
        spans(ROW),
        mask_token_id=mask_id,
        vocab_size=tokenizer.get_vocab_size(),
        mode="whole",
    )
    entity_tokens = {i for g in entity_token_indices(enc.offsets, spans(ROW)) for i in g}
    assert {i for i, x in enumerate(ids) if x == mask_id} == entity_tokens
    assert all((lab != -100) == (i in entity_tokens) for i, lab in enumerate(labels))
    assert all(labels[i] == enc.ids[i] for i in entity_tokens)


def test_partial_entity_masking_picks_a_seeded_subset_per_entity(tokenizer):
    enc = tokenizer.encode(ROW["cs_sentence"])
    groups = entity_token_indices(enc.offsets, spans(ROW))
    kwargs = dict(
        mask_token_id=tokenizer.token_to_id("[MASK]"),
        vocab_size=tokenizer.get_vocab_size(),
        mode="partial",
        token_prob=0.5,
    )
    ids, labels = mask_entities(enc.ids, enc.offsets, spans(ROW), rng=random.Random(7), **kwargs)
    assert len(groups) == 2 and all(groups)
    for g in groups:
        assert any(labels[i] != -100 for i in g)  # at least one token of every entity
    outside = set(range(len(ids))) - {i for g in groups for i in g}
    assert all(labels[i] == -100 and ids[i] == enc.ids[i] for i in outside)
    assert (ids, labels) == mask_entities(
        enc.ids, enc.offsets, spans(ROW), rng=random.Random(7), **kwargs
    )


def test_special_tokens_are_never_masked():
    offsets = [(0, 0), (0, 3), (4, 10), (0, 0)]
    ids, labels = mask_entities([1, 5, 6, 2], offsets, [(0, 10)], mask_token_id=3, vocab_size=10)
    assert ids == [1, 3, 3, 2] and labels == [-100, 5, 6, -100]
