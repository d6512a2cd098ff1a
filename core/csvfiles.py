"""How Starling reads CSV files: the one check for a ragged row (more or fewer fields than the header)."""

from __future__ import annotations


def ragged_row_problem(row: dict, *, header_fields: int) -> str:
    """For a `csv.DictReader` row: "has N fields, the header has M" when its field count differs from the
    header's, else an empty string."""
    # DictReader files surplus fields under the key None and fills missing ones with None.
    if None not in row and all(value is not None for value in row.values()):
        return ""
    fields = sum(1 for key, value in row.items() if key is not None and value is not None) + len(row.get(None) or [])
    return f"has {fields} fields, the header has {header_fields}"
