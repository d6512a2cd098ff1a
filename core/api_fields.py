"""API input fields stricter than DRF's own: text must arrive as a JSON string."""

from __future__ import annotations

from rest_framework import serializers

JSON_KINDS = {bool: "true or false", int: "a number", float: "a number", list: "a list", dict: "an object"}


class StrictCharField(serializers.CharField):
    """A text field that takes only a JSON string: DRF's CharField would turn 123 into "123"."""

    default_error_messages = {"not_text": "Give text (a JSON string), not {kind}."}

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("not_text", kind=JSON_KINDS.get(type(data), "a value of another type"))
        return super().to_internal_value(data)
