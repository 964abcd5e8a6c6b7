"""PsiloQA engine parts, one module per concern (e.g. `labels`: soft/hard label arithmetic,
`mushroom`: Mu-SHROOM <-> PsiloQA conversion).

Submodules are imported where needed; this package imports nothing at load time.
"""
