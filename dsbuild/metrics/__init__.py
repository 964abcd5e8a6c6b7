"""Evaluation metrics, one module per task (e.g. `spans`: the Mu-SHROOM span scores)."""
