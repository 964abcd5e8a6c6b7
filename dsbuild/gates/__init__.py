"""Quality gates every builder can use: language ID, deduplication, text hygiene, copying.

Each gate judges one text and returns a `Verdict` (kept, rejected with a reason, abstained,
unchecked), datatrove style; `dsbuild.gates.stage` turns a gate into a builder stage in one
line, and `dsbuild check` runs one over any file. Modules:

    base        Verdict, the Gate protocol, dotted field access
    detectors   language detectors (fastText lid.176 by default; cld2, lingua, langid)
    langid      LangIdGate (requested language), ScriptGate (label script per language)
    dedup       Deduplicator: exact (normalised hash) and near (MinHash LSH) duplicates,
                one text at a time
    dedup_bulk  dedup_all: the same verdicts over a whole set, sort-based LSH, low memory
    hygiene     HygieneGate: repairs (mojibake, control characters, NFC) and rejections
    copying     AnswerRepeatsQuestion, CopiedFromPassage
    stage       gate_stage / dedup_stage for builders, per-language counts
    check       check_file: the engine of `dsbuild check`
    report      gate_summary(run_dir): what each gate stage of a run did, per language
"""
