"""Who to record as the author of a change: a signed-in user, else nobody (a command, an anonymous visitor)."""

from __future__ import annotations


def recorded_author(user) -> object | None:
    """`user` when it is a signed-in user, else None (for a `created_by`/`changed_by` field)."""
    return user if getattr(user, "is_authenticated", False) else None
