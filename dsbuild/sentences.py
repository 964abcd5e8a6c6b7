"""Sentence splitting that never cuts through a link: spaCy's rule-based sentencizer by
default (offline, fast, many languages), stanza optional where rules fail.

`split_sentences(text, links)` returns `Sentence(start, end, n_tokens)` spans of `text`,
whitespace-trimmed. A boundary that falls inside a link (a known failure of the original
EntityCS scripts, which then produced bogus links) is removed by merging the two sentences.

With spaCy, most paragraphs are not tokenized whole: `_ChunkRule` gives the same spans and
token counts from the few space-separated chunks that hold sentence punctuation (see there).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache
from typing import Iterable, NamedTuple, Sequence

from dsbuild.errors import ConfigError

__all__ = ["Sentence", "SentenceSplitter", "split_sentences"]


class Sentence(NamedTuple):
    """A sentence span `[start, end)` of the text it was split from, and its token count."""

    start: int
    end: int
    n_tokens: int


class SentenceSplitter:
    """Splits paragraphs into sentences with token counts; `engine` is spacy or stanza."""

    def __init__(self, lang: str = "en", engine: str = "spacy") -> None:
        self.lang, self.engine = lang, engine
        self._fast: _ChunkRule | None = None
        if engine == "spacy":
            self._nlp = _spacy_pipeline(lang)
            self._fast = _chunk_rule(self._nlp)
        elif engine == "stanza":
            self._nlp = _stanza_pipeline(lang)
        else:
            raise ConfigError(
                f"unknown sentence splitter '{engine}'", "use spacy or stanza", code="DSB103"
            )

    def spans(self, text: str, *, count: bool = True) -> list[Sentence]:
        """Raw sentence spans (start, end, tokens) of one paragraph, trimmed. With
        `count=False`, `n_tokens` may be -1 where counting costs extra (`count_tokens`)."""
        if self._fast is not None:
            fast = self._fast.spans(text, count=count)
            if fast is not None:
                return fast
        if self.engine == "spacy":
            out = _spacy_rule_spans(self._nlp, text)
        else:
            out = [
                Sentence(s.tokens[0].start_char, s.tokens[-1].end_char, len(s.tokens))
                for s in self._nlp(text).sentences
            ]
        return [_trim(text, s) for s in out if text[s.start : s.end].strip()]

    def split(
        self, text: str, links: Sequence[tuple[int, int]] = (), *, count: bool = True
    ) -> list[Sentence]:
        """Sentences of `text`, merged wherever a boundary would cut a link (`count` as in
        `spans`: a caller that needs only some counts asks `count_tokens` for those)."""
        return merge_across_links(self.spans(text, count=count), links)

    def count_tokens(self, text: str, sentence: Sentence) -> int:
        """The `n_tokens` of a sentence that `split(text, ..., count=False)` returned."""
        if sentence.n_tokens >= 0:
            return sentence.n_tokens
        if self._fast is None:  # -1 comes only from the chunk-wise path
            raise ValueError("count_tokens needs a sentence split from the same text")
        return self._fast.count(text, sentence.start, sentence.end)


def merge_across_links(
    sentences: list[Sentence], links: Iterable[tuple[int, int]]
) -> list[Sentence]:
    """Join consecutive sentences when a link starts in one and ends in the next."""
    spans = [(s, e) for s, e in links if e > s]
    if not spans or len(sentences) < 2:
        return sentences
    merged = [sentences[0]]
    for sent in sentences[1:]:
        prev = merged[-1]
        if any(s < sent.start and e > prev.end for s, e in spans):
            n_tokens = (
                prev.n_tokens + sent.n_tokens if prev.n_tokens >= 0 and sent.n_tokens >= 0 else -1
            )
            merged[-1] = Sentence(prev.start, sent.end, n_tokens)
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

        _PUNCT_HASHES[key] = frozenset(
            nlp.vocab.strings.add(c) for c in Sentencizer.default_punct_chars
        )
    return _PUNCT_HASHES[key]


# What `str.isspace()` (spaCy's whitespace test) is true for, but " " (a test checks it); an
# explicit class is ~10x faster to search than `[^\S ]`.
_OTHER_SPACES = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003"
    "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_C, _N, _P = 0, 1, 2  # token kinds for the rule: candidate start, other punctuation, punct_chars
_CACHE_SIZE = 1 << 16  # chunks remembered per cache (~10 MB each when full)


class _ChunkRule:
    """`_spacy_rule_spans` + trimming, computed without tokenizing the whole paragraph.

    spaCy's tokenizer cuts text at whitespace and tokenizes each space-separated chunk on
    its own; the one step that looks across chunks, its special-case matcher, changes
    nothing when no two neighbouring chunks could continue one of its patterns (checked
    for with `_special_patterns`, from the patterns themselves). So, in a paragraph whose chunks are
    separated by single spaces, a chunk's tokens are those of the chunk tokenized alone, and:
    a sentence can start only after a chunk holding one of the Sentencizer's punctuation
    characters; the chunks in between matter only up to the first one with a token that
    can start a sentence (one that starts with a letter or digit is such a token itself);
    token counts are sums of per-chunk counts. The chunks' tokens come from spaCy, once
    (bounded caches; unseen chunks of a paragraph or sentence in one call). Anything else
    (other whitespace, a risky pair) returns None, and the caller tokenizes the paragraph
    whole. Tests compare both paths on many texts.
    """

    def __init__(self, nlp) -> None:
        from spacy.pipeline.sentencizer import Sentencizer

        self._tokenizer = nlp.tokenizer
        chars = list(Sentencizer.default_punct_chars)
        if any(len(c) != 1 or c.isalnum() or c.isspace() for c in chars):  # premises below
            raise ValueError("unexpected Sentencizer punctuation")
        self._punct = frozenset(chars)
        # One scan finds them, and any whitespace but " " (then the paragraph falls back).
        # Characters beyond the BMP make a character class ~10x slower: one range for them,
        # and a hit there that is not punctuation is skipped.
        bmp = "".join(re.escape(c) for c in chars if ord(c) < 0x10000)
        self._scan = re.compile(f"[{bmp}{re.escape(_OTHER_SPACES)}\U00010000-\U0010ffff]")
        self._risky_space, self._risky = _special_patterns(nlp.tokenizer)
        self._kinds: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self._effects: dict[str, tuple[tuple[tuple[int, ...], bool], ...]] = {}
        self._counts: dict[str, int] = {}  # chunk -> tokens
        self._shared: dict[tuple, tuple] = {}

    def spans(self, text: str, *, count: bool = True) -> list[Sentence] | None:
        """Trimmed sentences of `text`, or None when it needs the whole-paragraph path;
        with `count=False`, `n_tokens` is -1 (see `count`)."""
        if not text or "  " in text or text[0] == " " or text[-1] == " ":
            return None
        if self._risky_space.search(text) is not None:
            window = self._risky[1]
            for hit in self._risky_space.finditer(text):
                if (
                    self._risky[0].search(
                        text, max(0, hit.start() - window), hit.start() + window + 1
                    )
                    is not None
                ):
                    return None
        size = len(text)
        punct = self._punct
        hits: list[tuple[int, int, str]] = []  # the chunks holding punct_chars characters
        scan = 0
        for match in self._scan.finditer(text):
            pos = match.start()
            char = text[pos]
            if char not in punct:
                if char.isspace():
                    return None  # whitespace other than " ": spaCy makes it a token
                continue  # a character beyond the BMP that is not punctuation
            if pos < scan:
                continue
            start = text.rfind(" ", 0, pos) + 1
            end = text.find(" ", pos)
            if end < 0:
                end = size
            hits.append((start, end, text[start:end]))
            scan = end + 1
        effects = self._effects
        for _, _, chunk in hits:
            if chunk not in effects:
                self._learn([c for _, _, c in hits])
                break
        cuts: list[int] = []
        seen = False
        scan = 0  # the first chunk not looked at yet
        for start, end, chunk in hits:
            if seen:
                cut = self._first_start(text, scan, start)
                if cut >= 0:
                    cuts.append(cut)
                    seen = False
            chunk_cuts, seen = effects[chunk][seen]
            for offset in chunk_cuts:
                cuts.append(start + offset)
            scan = end + 1
            if seen and scan < size and text[scan].isalnum():  # the usual: `end. Next`
                cuts.append(scan)
                seen = False
        if seen:
            cut = self._first_start(text, scan, size)
            if cut >= 0:
                cuts.append(cut)
        out: list[Sentence] = []
        start = 0
        counter = self.count
        for cut in cuts:
            out.append(
                Sentence(
                    start,
                    cut - 1 if text[cut - 1] == " " else cut,
                    counter(text, start, cut) if count else -1,
                )
            )
            start = cut
        out.append(Sentence(start, size, counter(text, start, size) if count else -1))
        return out

    def _first_start(self, text: str, pos: int, limit: int) -> int:
        """Where the first token that may start a sentence is, in the chunks from `pos`
        up to `limit` (none of which holds a punct_chars character), or -1."""
        while pos < limit:
            if text[pos].isalnum():  # neither punctuation nor a punct_chars token
                return pos
            end = text.find(" ", pos, limit)
            if end < 0:
                end = limit
            offsets, chunk_kinds = self._chunk_kinds(text[pos:end])
            for offset, kind in zip(offsets, chunk_kinds):
                if kind == _C:
                    return pos + offset
            pos = end + 1
        return -1

    def _learn(self, chunks: list[str]) -> None:
        """Tokens and rule effects of the `chunks` not known yet, all tokenized in one call
        (joined by newlines: no special-case pattern holds a whitespace token, so each chunk
        is tokenized as alone), so that `_effects` holds every one of `chunks` after."""
        kinds, effects = self._kinds, self._effects
        if len(effects) + len(chunks) > _CACHE_SIZE or len(kinds) + len(chunks) > _CACHE_SIZE:
            kinds.clear()
            effects.clear()
            self._shared.clear()
        new = list(dict.fromkeys(c for c in chunks if c not in effects))
        punct = self._punct
        per_chunk: list[list[tuple[int, int]]] = [[] for _ in new]
        k = base = 0  # the chunk being read, and where it starts in the joined text
        for token in self._tokenizer("\n".join(new)):
            if token.text == "\n":
                base += len(new[k]) + 1
                k += 1
                continue
            per_chunk[k].append(
                (token.idx - base, _P if token.text in punct else _N if token.is_punct else _C)
            )
        share = self._shared.setdefault  # few distinct values: one object each
        for chunk, tokens in zip(new, per_chunk):
            found = (tuple(t[0] for t in tokens), tuple(t[1] for t in tokens))
            kinds[chunk] = found = share(found, found)
            effect = self._rule_effect(*found)
            effects[chunk] = share(effect, effect)

    @staticmethod
    def _rule_effect(
        offsets: tuple[int, ...], chunk_kinds: tuple[int, ...]
    ) -> tuple[tuple[tuple[int, ...], bool], ...]:
        """What the rule does in a chunk, indexed by whether a sentence may start at its
        first candidate token: (offsets where sentences start, the same flag after it)."""
        effect = []
        for seen in (False, True):
            cuts = []
            for offset, kind in zip(offsets, chunk_kinds):
                if kind == _P:
                    seen = True
                elif seen and kind == _C:
                    cuts.append(offset)
                    seen = False
            effect.append((tuple(cuts), seen))
        return tuple(effect)

    def count(self, text: str, start: int, end: int) -> int:
        """Tokens that start in [start, end) of a text `spans` answers for; `start` is where
        a token starts (a sentence's start)."""
        first = text.rfind(" ", 0, start) + 1  # the chunk `start` is in
        n = -self._before(text, first, start) if first < start else 0
        last = text.rfind(" ", 0, end) + 1 if end < len(text) else len(text) + 1
        if end < len(text) and last < end:
            n += self._before(text, last, end)
        if last > first:
            whole = text[first : last - 1]
            chunks = whole.split(" ")
            try:
                n += sum(map(self._counts.__getitem__, chunks))
            except KeyError:
                n += self._count_new(whole, chunks)
        return n

    def _count_new(self, whole: str, chunks: list[str]) -> int:
        """Tokens of `whole` (chunks joined by single spaces), tokenized at once (a call
        per unseen chunk would cost more); remembers each chunk's count."""
        import numpy
        from spacy.attrs import SPACY

        doc = self._tokenizer(whole)
        if len(self._counts) + len(chunks) > _CACHE_SIZE:
            self._counts.clear()
        if len(doc):
            after_space = doc.to_array(SPACY)  # 1 where a token ends its chunk
            per_chunk = numpy.bincount(
                numpy.cumsum(after_space) - after_space, minlength=len(chunks)
            )
            self._counts.update(zip(chunks, per_chunk.tolist()))
        return len(doc)

    def _before(self, text: str, chunk_start: int, pos: int) -> int:
        """Tokens of the chunk at `chunk_start` that start before `pos`."""
        end = text.find(" ", chunk_start)
        offsets, _ = self._chunk_kinds(text[chunk_start : end if end >= 0 else len(text)])
        return bisect_left(offsets, pos - chunk_start)

    def _chunk_kinds(self, chunk: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Token offsets in `chunk` and their kinds for the rule."""
        found = self._kinds.get(chunk)
        if found is None:
            doc = self._tokenizer(chunk)
            punct = self._punct
            found = (
                tuple(t.idx for t in doc),
                tuple(_P if t.text in punct else _N if t.is_punct else _C for t in doc),
            )
            if len(self._kinds) >= _CACHE_SIZE:
                self._kinds.clear()
            self._kinds[chunk] = found = self._shared.setdefault(found, found)
        return found


def _special_patterns(tokenizer) -> tuple[re.Pattern[str], tuple[re.Pattern[str], int]]:
    """Where the tokenizer's special-case matcher could match across a space.

    Its patterns (spacy/tokenizer.pyx `add_special_case`) are token sequences; a match
    spanning two chunks has a space between two of its consecutive tokens. Returns a quick
    filter (a space between the last character of one pattern token and the first of the
    next), and the exact check to run near its hits: any pattern written with a space at
    one or more token boundaries, and the longest such text. Raises ValueError when a
    pattern of several tokens holds whitespace (`_ChunkRule` relies on none doing so).
    """
    from spacy.tokenizer import Tokenizer

    bare = Tokenizer(
        tokenizer.vocab,
        rules={},
        prefix_search=tokenizer.prefix_search,
        suffix_search=tokenizer.suffix_search,
        infix_finditer=tokenizer.infix_finditer,
        token_match=tokenizer.token_match,
        url_match=tokenizer.url_match,
    )
    # (first characters, next characters), for pairs whose first is a letter/digit or not
    pairs: dict[bool, tuple[set[str], set[str]]] = {True: (set(), set()), False: (set(), set())}
    spelled: set[str] = set()
    longest = 0
    for string in tokenizer.rules or {}:
        if tokenizer.faster_heuristics and not (
            tokenizer.find_prefix(string)
            or tokenizer.find_infix(string)
            or tokenizer.find_suffix(string)
            or " " in string
        ):
            continue  # not in the matcher
        tokens = [t.text for t in bare(string)]
        if len(tokens) > 1 and any(c.isspace() for c in string):
            raise ValueError(f"special case {string!r} spans whitespace")
        for k in range(1, len(tokens)):
            a, b = tokens[k - 1][-1], tokens[k][0]
            pairs[a.isalnum()][0].add(a)
            pairs[a.isalnum()][1].add(b)
            spelled.add(
                " ?".join(map(re.escape, tokens[:k])) + " " + " ?".join(map(re.escape, tokens[k:]))
            )
        longest = max(longest, len(string) + len(tokens))

    def cls(chars: set[str]) -> str:
        return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"

    quick = [f"(?<={cls(firsts)} ){cls(nexts)}" for firsts, nexts in pairs.values() if firsts]
    return (
        re.compile(" (?:" + "|".join(quick) + ")" if quick else "(?!)"),
        (re.compile("|".join(sorted(spelled)) or "(?!)"), longest),
    )


_RULES: dict[int, _ChunkRule | None] = {}


def _chunk_rule(nlp) -> _ChunkRule | None:
    """The chunk-wise rule for a pipeline whose tokenizer is spaCy's own (else None)."""
    from spacy.tokenizer import Tokenizer

    key = id(nlp)
    if key not in _RULES:
        rule = None
        if type(nlp.tokenizer) is Tokenizer:
            try:
                rule = _ChunkRule(nlp)
            except ValueError:  # a premise of the chunk-wise rule does not hold
                rule = None
        _RULES[key] = rule
    return _RULES[key]


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
        raise ConfigError(
            "sentence splitting needs spaCy, which is not installed",
            "pip install spacy",
            code="DSB103",
        ) from None
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
        raise ConfigError(
            "the stanza splitter needs stanza, which is not installed",
            "pip install 'dsbuild[stanza]'",
            code="DSB103",
        ) from None
    try:
        return stanza.Pipeline(lang, processors="tokenize", download_method=None, verbose=False)
    except Exception as exc:
        raise ConfigError(
            f"no stanza tokenizer model for '{lang}' on this machine ({exc.__class__.__name__})",
            "download it once: python -c "
            f"\"import stanza; stanza.download('{lang}', processors='tokenize')\"",
            code="DSB103",
        ) from None


def split_sentences(
    text: str, links: Sequence[tuple[int, int]] = (), *, lang: str = "en", engine: str = "spacy"
) -> list[Sentence]:
    """Convenience: split one paragraph with a cached splitter."""
    return _splitter(lang, engine).split(text, links)


@lru_cache(maxsize=8)
def _splitter(lang: str, engine: str) -> SentenceSplitter:
    return SentenceSplitter(lang, engine)
