"""Language gates: is a text in the language it should be in, and is a label's script
plausible for its language.

`LangIdGate` asks a detector (default: fastText lid.176, see `detectors.py`) for the
probability of the requested language and keeps the text when it reaches that language's
threshold. It abstains on short texts (names, dates: a detector cannot tell "Eduardo Mango"
from Spanish), and reports languages the detector does not know as unchecked. Reasons:

    wrong_language      another language is confidently detected (>= `other_threshold`)
    uncertain_language  neither the requested nor any other language is confident

Close varieties count as the requested language (`ALIASES`: no/nb/nn, zh/wuu/yue, sh with
sr/hr/bs), and Chinese without kana is not taken for Japanese (lid.176 calls short
kanji-only Chinese `ja`).

`ScriptGate` checks that most letters of a text are in a script its language is written in
(EntityCS: a switched Wikidata label). Reason: `implausible_script`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from functools import lru_cache

from dsbuild.gates.base import Verdict
from dsbuild.gates.detectors import Detector, base_code, get_detector

__all__ = [
    "ALIASES",
    "DEFAULT_THRESHOLDS",
    "SCRIPTS",
    "LangIdGate",
    "ScriptGate",
    "effective_length",
    "script_of",
    "script_shares",
]

# Probability of the requested language needed to keep a text ("*": every other language).
# Measured on Mu-SHROOM (benchmarks/gates_langid.py): lid.176 gives the true language >= 0.8
# for 95% of ar/de/es/fi/fr/hi/it texts; Swedish shares its probability with Danish and
# Norwegian, and short Chinese with Japanese, so those get lower bars.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "*": 0.3,
    "sv": 0.15,
    "da": 0.15,
    "no": 0.15,
    "nb": 0.15,
    "nn": 0.15,
    "zh": 0.15,
    "gl": 0.15,
    "ca": 0.2,
    "ms": 0.15,
    "id": 0.15,
}
ALIASES: dict[str, frozenset[str]] = {
    **{c: frozenset({"no", "nb", "nn"}) for c in ("no", "nb", "nn")},
    "zh": frozenset({"zh", "wuu", "yue"}),
    **{c: frozenset({c, "sh"}) for c in ("sr", "hr", "bs")},
    "sh": frozenset({"sh", "sr", "hr", "bs"}),
}
_WIDE = ("CJK", "HIRAGANA", "KATAKANA")


@lru_cache(maxsize=65536)
def script_of(ch: str) -> str:
    """The script-ish name of one character from its Unicode name (`LATIN`, `CJK`, ...)."""
    name = unicodedata.name(ch, "")
    if not name:
        return "UNKNOWN"
    word = name.split(" ", 1)[0]
    if word in ("FULLWIDTH", "HALFWIDTH") and " " in name:
        word = name.split(" ", 2)[1]
    if word == "KATAKANA-HIRAGANA":
        word = "KATAKANA"
    return word


def effective_length(text: str) -> int:
    """Letters and combining marks in `text` (Devanagari vowel signs are marks), an ideograph
    or kana counting 3 (one carries about a word)."""
    n = 0
    for ch in text:
        if ch.isalpha():
            n += 3 if ord(ch) >= 0x3000 and script_of(ch) in _WIDE else 1
        elif ord(ch) >= 0x300 and unicodedata.category(ch) in ("Mn", "Mc"):
            n += 1
    return n


def _has_kana(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\uff66" <= ch <= "\uff9d" for ch in text)


class LangIdGate:
    """Keep texts in the requested language (see the module docstring)."""

    name = "langid"
    reasons = ("wrong_language", "uncertain_language")

    def __init__(
        self,
        detector: str | Detector = "fasttext",
        *,
        thresholds: Mapping[str, float] | None = None,
        min_chars: int = 20,
        other_threshold: float = 0.5,
        reject_uncertain: bool = True,
        detect_always: bool = False,
    ) -> None:
        self.detector = get_detector(detector) if isinstance(detector, str) else detector
        self.thresholds = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
        self.min_chars = min_chars
        self.other_threshold = other_threshold
        self.reject_uncertain = reject_uncertain
        self.detect_always = detect_always  # also detect when abstaining (for reports)

    def knows(self, lang: str) -> bool:
        base = base_code(lang)
        return bool(ALIASES.get(base, frozenset({base})) & self.detector.languages)

    def check(self, text: str, *, lang: str | None = None, record: dict | None = None) -> Verdict:
        if not lang:
            return Verdict("unchecked", detail="no requested language")
        base = base_code(lang)
        if not self.knows(base):
            return Verdict("unchecked", detail=f"{self.detector.name} does not know {lang!r}")
        group = ALIASES.get(base, frozenset({base}))
        if effective_length(text or "") < self.min_chars:
            detected = None
            if self.detect_always and (text or "").strip():
                top = self.detector.predict(text, 1)
                detected = (base if top[0][0] in group else top[0][0]) if top else None
            return Verdict(
                "abstained", detail=f"fewer than {self.min_chars} letters", detected=detected
            )
        preds = self.detector.predict(text, 5)
        if base == "zh" and not _has_kana(text):
            group = group | {"ja"}
        p = sum(prob for code, prob in preds if code in group)
        top, top_p = preds[0] if preds else ("und", 0.0)
        detected = base if top in group else top
        threshold = self.thresholds.get(base, self.thresholds["*"])
        if p >= threshold:
            return Verdict("kept", detected=detected, score=p)
        if top not in group and top_p >= self.other_threshold:
            return Verdict.reject(
                "wrong_language",
                f"detected {top} ({top_p:.2f}), expected {lang} ({p:.2f})",
                detected=detected,
                score=p,
            )
        if not self.reject_uncertain:
            return Verdict("kept", detected=detected, score=p)
        return Verdict.reject(
            "uncertain_language",
            f"expected {lang} at {p:.2f} < {threshold}; best {top} ({top_p:.2f})",
            detected=detected,
            score=p,
        )


# Scripts (as `script_of` names them) that each language's text is written in.
_LATIN = [
    "af",
    "az",
    "bs",
    "ca",
    "cs",
    "cy",
    "da",
    "de",
    "en",
    "eo",
    "es",
    "et",
    "eu",
    "fi",
    "fil",
    "fr",
    "fy",
    "ga",
    "gd",
    "gl",
    "ha",
    "hr",
    "hu",
    "id",
    "is",
    "it",
    "jv",
    "ku",
    "la",
    "lt",
    "lv",
    "mg",
    "ms",
    "mt",
    "nl",
    "no",
    "nb",
    "nn",
    "om",
    "pl",
    "pt",
    "ro",
    "sk",
    "sl",
    "so",
    "sq",
    "su",
    "sv",
    "sw",
    "tl",
    "tr",
    "uz",
    "vi",
    "xh",
    "yo",
    "zu",
    "br",
    "oc",
    "lb",
]
SCRIPTS: dict[str, frozenset[str]] = {
    **{c: frozenset({"LATIN"}) for c in _LATIN},
    **{
        c: frozenset({"CYRILLIC"})
        for c in ["ru", "uk", "be", "bg", "mk", "kk", "ky", "mn", "tg", "tt", "ba"]
    },
    "sr": frozenset({"CYRILLIC", "LATIN"}),
    **{c: frozenset({"ARABIC"}) for c in ["ar", "fa", "ur", "ps", "sd", "ug", "ckb"]},
    **{c: frozenset({"DEVANAGARI"}) for c in ["hi", "mr", "ne", "sa"]},
    **{c: frozenset({"BENGALI"}) for c in ("bn", "as")},
    "pa": frozenset({"GURMUKHI"}),
    "gu": frozenset({"GUJARATI"}),
    "or": frozenset({"ORIYA"}),
    "ta": frozenset({"TAMIL"}),
    "te": frozenset({"TELUGU"}),
    "kn": frozenset({"KANNADA"}),
    "ml": frozenset({"MALAYALAM"}),
    "si": frozenset({"SINHALA"}),
    "th": frozenset({"THAI"}),
    "lo": frozenset({"LAO"}),
    "km": frozenset({"KHMER"}),
    "my": frozenset({"MYANMAR"}),
    "ka": frozenset({"GEORGIAN"}),
    "hy": frozenset({"ARMENIAN"}),
    "el": frozenset({"GREEK"}),
    "he": frozenset({"HEBREW"}),
    "yi": frozenset({"HEBREW"}),
    "am": frozenset({"ETHIOPIC"}),
    "zh": frozenset({"CJK"}),
    "ja": frozenset({"CJK", "HIRAGANA", "KATAKANA"}),
    "ko": frozenset({"HANGUL", "CJK"}),
    "bo": frozenset({"TIBETAN"}),
    "dv": frozenset({"THAANA"}),
}


_MEMO_SIZE = 200_000  # ScriptGate verdicts kept


def script_shares(text: str) -> dict[str, float]:
    """Share of the letters of `text` in each script."""
    counts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha():
            s = script_of(ch)
            counts[s] = counts.get(s, 0) + 1
    total = sum(counts.values())
    return {s: n / total for s, n in counts.items()} if total else {}


class ScriptGate:
    """Keep a text when at least `min_share` of its letters are in its language's scripts.

    `extra` adds scripts accepted for every language (e.g. `{"LATIN"}` to allow `BMW` as a
    Japanese label); `scripts` overrides or extends the table per language.
    """

    name = "script"
    reasons = ("implausible_script",)

    def __init__(
        self,
        *,
        min_share: float = 0.5,
        extra: frozenset[str] | set[str] = frozenset(),
        scripts: Mapping[str, frozenset[str] | set[str]] | None = None,
    ) -> None:
        self.min_share = min_share
        self.extra = frozenset(extra)
        self.scripts = {**SCRIPTS, **{k: frozenset(v) for k, v in (scripts or {}).items()}}
        # verdicts by (text, language): the same labels come back sentence after sentence
        self._memo: dict[tuple[str, str | None], Verdict] = {}

    def check(self, text: str, *, lang: str | None = None, record: dict | None = None) -> Verdict:
        key = (text, lang)
        verdict = self._memo.get(key)
        if verdict is None:
            verdict = self._check(text, lang)
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = verdict
        return verdict

    def _check(self, text: str, lang: str | None) -> Verdict:
        expected = self.scripts.get(base_code(lang or ""))
        if expected is None:
            return Verdict("unchecked", detail=f"no script table for {lang!r}")
        shares = script_shares(text or "")
        if not shares:
            return Verdict("abstained", detail="no letters")
        share = sum(v for s, v in shares.items() if s in expected | self.extra)
        if share >= self.min_share:
            return Verdict("kept", score=share)
        main = max(shares, key=shares.get)
        return Verdict.reject(
            "implausible_script",
            f"{text!r} is mostly {main} ({shares[main]:.0%}); {lang} expects "
            f"{'/'.join(sorted(expected))}",
            detected=main,
            score=share,
        )
