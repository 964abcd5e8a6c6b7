"""EntityCS helpers that belong to no shared layer: its build options."""
