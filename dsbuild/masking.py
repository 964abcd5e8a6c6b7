"""Entity masking for training on an EntityCS corpus: the paper's whole-entity (WEP) and
partial-entity (PEP) prediction, over any fast tokenizer's offset mapping.

Entities are given as character spans (`cs_start`, `cs_end` of a row's `entities`), tokens
by their `(start, end)` offsets (`tokenizers.Encoding.offsets`, or a transformers fast
tokenizer's `return_offsets_mapping=True`); special tokens have empty `(0, 0)` offsets and
are never masked. Labels use `ignore_index` (-100) where nothing is to be predicted.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

__all__ = ["entity_token_indices", "mask_entities"]


def entity_token_indices(
    offsets: Sequence[tuple[int, int]], entity_spans: Sequence[tuple[int, int]]
) -> list[list[int]]:
    """For each entity span, the indices of the tokens that overlap it."""
    out: list[list[int]] = []
    for start, end in entity_spans:
        out.append([i for i, (s, e) in enumerate(offsets) if e > s and s < end and e > start])
    return out


def mask_entities(
    input_ids: Sequence[int],
    offsets: Sequence[tuple[int, int]],
    entity_spans: Sequence[tuple[int, int]],
    *,
    mask_token_id: int,
    vocab_size: int,
    mode: str = "whole",
    entity_prob: float = 1.0,
    token_prob: float = 0.5,
    mrs: tuple[float, float, float] = (0.8, 0.1, 0.1),
    rng: random.Random | None = None,
    ignore_index: int = -100,
) -> tuple[list[int], list[int]]:
    """Mask entities; return (masked input ids, labels).

    `mode="whole"` (WEP): every token of each chosen entity becomes the mask token.
    `mode="partial"` (PEP): each token of a chosen entity is picked with `token_prob` (at
    least one per entity) and replaced as in BERT by `mrs` = (mask, random, same) shares.
    Entities are chosen with `entity_prob`.
    """
    if mode not in ("whole", "partial"):
        raise ValueError(f"mode must be 'whole' or 'partial', not {mode!r}")
    rng = rng or random.Random(0)
    ids = list(input_ids)
    labels = [ignore_index] * len(ids)
    for tokens in entity_token_indices(offsets, entity_spans):
        if not tokens or rng.random() >= entity_prob:
            continue
        if mode == "whole":
            for i in tokens:
                labels[i] = ids[i]
                ids[i] = mask_token_id
            continue
        picked = [i for i in tokens if rng.random() < token_prob] or [rng.choice(tokens)]
        for i in picked:
            labels[i] = ids[i]
            r = rng.random()
            if r < mrs[0]:
                ids[i] = mask_token_id
            elif r < mrs[0] + mrs[1]:
                ids[i] = rng.randrange(vocab_size)
    return ids, labels
