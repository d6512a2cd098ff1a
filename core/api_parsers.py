"""Strict JSON in: the API's parser refuses what is not JSON as RFC 8259 defines it, with a 400.

Python's `json` module accepts `NaN`, `Infinity` and numbers too large for a float (`1e999` becomes
`inf`), none of which is JSON and none of which the API could answer with again (DRF's STRICT_JSON
renderer refuses them with a 500). Deeply nested arrays or objects make the decoder raise
`RecursionError`, which is not a `ValueError` and so escaped DRF's parser as a 500. Both are the
client's mistake, so both are a `ParseError`: the error body of `core.api_errors`, status 400.
"""

from __future__ import annotations

import codecs
import json
import math
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding

# Far deeper than any request of this API, far below the depth at which the decoder runs out of stack.
MAX_JSON_DEPTH = 64


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large for a JSON number")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON value")


# One decoder for every call (`json.loads` with options builds a new one each time).
_decoder = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed value (a scalar is 0), without recursion."""
    if not isinstance(value, dict | list):
        return 0
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def strict_json_loads(text: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`text` parsed as strict JSON; ValueError (with a message for people) for anything else.

    Refused: NaN and ±Infinity, numbers beyond a float's range, and nesting deeper than `max_depth`.
    """
    too_deep = f"JSON nested more than {max_depth} levels deep"
    try:
        value = _decoder.decode(text)
    except RecursionError:  # the decoder gives up near the interpreter's recursion limit
        raise ValueError(too_deep) from None
    # Fewer brackets than the limit cannot nest deeper than it (counting is cheap; walking is not).
    if text.count("[") + text.count("{") > max_depth and _depth(value) > max_depth:
        raise ValueError(too_deep)
    return value


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, answering 400 for nesting too deep and for NaN, Infinity or out-of-range numbers."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        """The request body as strict JSON, or a ParseError (400) that says what is wrong."""
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            return strict_json_loads(text)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
