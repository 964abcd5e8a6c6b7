"""Sentence splitting that never cuts through a link: spaCy's rule-based sentencizer by
default (offline, fast, many languages), stanza optional where rules fail.

`split_sentences(text, links)` returns `Sentence(start, end, n_tokens)` spans of `text`,
whitespace-trimmed. A boundary that falls inside a link (a known failure of the original
EntityCS scripts, which then produced bogus links) is removed by merging the two sentences.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from dsbuild.errors import ConfigError

__all__ = ["Sentence", "SentenceSplitter", "split_sentences"]


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    n_tokens: int


class SentenceSplitter:
    """Splits paragraphs into sentences with token counts; `engine` is spacy or stanza."""

    def __init__(self, lang: str = "en", engine: str = "spacy") -> None:
        self.lang, self.engine = lang, engine
        if engine == "spacy":
            self._nlp = _spacy_pipeline(lang)
        elif engine == "stanza":
            self._nlp = _stanza_pipeline(lang)
        else:
            raise ConfigError(f"unknown sentence splitter '{engine}'", "use spacy or stanza",
                              code="DSB103")

    def spans(self, text: str) -> list[Sentence]:
        """Raw sentence spans (start, end, tokens) of one paragraph, trimmed."""
        if self.engine == "spacy":
            out = _spacy_rule_spans(self._nlp, text)
        else:
            out = [Sentence(s.tokens[0].start_char, s.tokens[-1].end_char, len(s.tokens))
                   for s in self._nlp(text).sentences]
        return [_trim(text, s) for s in out if text[s.start:s.end].strip()]

    def split(self, text: str, links: Sequence[tuple[int, int]] = ()) -> list[Sentence]:
        """Sentences of `text`, merged wherever a boundary would cut a link."""
        return merge_across_links(self.spans(text), links)


def merge_across_links(sentences: list[Sentence], links: Iterable[tuple[int, int]]) -> list[Sentence]:
    """Join consecutive sentences when a link starts in one and ends in the next."""
    spans = [(s, e) for s, e in links if e > s]
    if not spans or len(sentences) < 2:
        return sentences
    merged = [sentences[0]]
    for sent in sentences[1:]:
        prev = merged[-1]
        if any(s < sent.start and e > prev.end for s, e in spans):
            merged[-1] = Sentence(prev.start, sent.end, prev.n_tokens + sent.n_tokens)
        else:
            merged.append(sent)
    return merged


def _spacy_rule_spans(nlp, text: str) -> list[Sentence]:
    """spaCy's Sentencizer rule, computed on the token arrays instead of token objects.

    The rule (spacy/pipeline/sentencizer.pyx): a token starts a sentence when a token of
    `punct_chars` came before it since the last sentence start, and it is neither
    punctuation nor one of `punct_chars`. Same spans as `nlp.add_pipe("sentencizer")`,
    several times faster, because no Python `Token` is created (a test compares the two).
    """
    from spacy.attrs import IDX, IS_PUNCT, IS_SPACE, ORTH

    doc = nlp.make_doc(text)
    if len(doc) == 0:
        return []
    punct = _punct_hashes(nlp)
    out: list[Sentence] = []
    start_char = tokens = 0
    seen = False
    for idx, is_punct, is_space, orth in doc.to_array([IDX, IS_PUNCT, IS_SPACE, ORTH]).tolist():
        in_punct = orth in punct
        if seen and not is_punct and not in_punct:
            out.append(Sentence(start_char, idx, tokens))
            start_char, tokens, seen = idx, 0, False
        elif in_punct:
            seen = True
        tokens += not is_space
    out.append(Sentence(start_char, len(text), tokens))
    return out


_PUNCT_HASHES: dict[int, frozenset[int]] = {}


def _punct_hashes(nlp) -> frozenset[int]:
    """Hashes of the Sentencizer's default punctuation characters in this vocabulary."""
    key = id(nlp.vocab)
    if key not in _PUNCT_HASHES:
        from spacy.pipeline.sentencizer import Sentencizer

        _PUNCT_HASHES[key] = frozenset(nlp.vocab.strings.add(c)
                                       for c in Sentencizer.default_punct_chars)
    return _PUNCT_HASHES[key]


def _trim(text: str, s: Sentence) -> Sentence:
    start, end = s.start, s.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Sentence(start, end, s.n_tokens)


@lru_cache(maxsize=8)
def _spacy_pipeline(lang: str):
    try:
        import spacy
    except ImportError:
        raise ConfigError("sentence splitting needs spaCy, which is not installed",
                          "pip install spacy", code="DSB103") from None
    try:
        nlp = spacy.blank(lang)
    except Exception:  # spaCy raises ImportError/KeyError subclasses for unknown languages
        nlp = spacy.blank("xx")
    nlp.add_pipe("sentencizer")
    return nlp


@lru_cache(maxsize=8)
def _stanza_pipeline(lang: str):
    try:
        import stanza
    except ImportError:
        raise ConfigError("the stanza splitter needs stanza, which is not installed",
                          "pip install 'dsbuild[stanza]'", code="DSB103") from None
    try:
        return stanza.Pipeline(lang, processors="tokenize", download_method=None, verbose=False)
    except Exception as exc:
        raise ConfigError(
            f"no stanza tokenizer model for '{lang}' on this machine ({exc.__class__.__name__})",
            f"download it once: python -c \"import stanza; stanza.download('{lang}', processors='tokenize')\"",
            code="DSB103") from None


def split_sentences(text: str, links: Sequence[tuple[int, int]] = (), *, lang: str = "en",
                    engine: str = "spacy") -> list[Sentence]:
    """Convenience: split one paragraph with a cached splitter."""
    return _splitter(lang, engine).split(text, links)


@lru_cache(maxsize=8)
def _splitter(lang: str, engine: str) -> SentenceSplitter:
    return SentenceSplitter(lang, engine)
