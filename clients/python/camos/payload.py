# SPDX-License-Identifier: Apache-2.0
"""The kernel's payload grammar, both ways (DESIGN.md, "Payload grammar").

`key:value` pairs joined by commas. The first `:` of a token splits key from
value, and a token without `:` continues the previous value, comma included.
The grammar has no escape, so a value fits in a payload only if every comma
in it is followed by text without a `:` up to the next comma, and it holds
no NUL. Values that may not (stored values, driver input, policies) never go
in the payload: the verbs that take them get them in the binary `data`
field, where any bytes round-trip.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Dict, Iterable, Optional, Set, Tuple, Union

_KEY = re.compile(r"[a-z_][a-z0-9_]*\Z")

Scalar = Union[str, int, float, bool]


class PayloadError(ValueError):
    """A value the payload grammar cannot carry; nothing was sent."""


def format_value(value: Scalar) -> str:
    """A value as the kernel reads it: booleans as true/false, numbers as
    plain decimals (the kernel refuses exponents)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PayloadError("%r is not a finite number" % value)
        text = repr(value)
        return format(Decimal(text), "f") if "e" in text or "E" in text else text
    if isinstance(value, str):
        return value
    raise PayloadError("cannot send a %s in a payload" % type(value).__name__)


# Keys already checked: a call's keys are nearly always the same few
# names, and this is on every call's path (bounded: callers may make keys).
_good_keys: Set[str] = set()


def _is_key(key: str) -> bool:
    if key in _good_keys:
        return True
    if not _KEY.match(key):
        return False
    if len(_good_keys) < 1024:
        _good_keys.add(key)
    return True


def check_pair(key: str, value: str) -> None:
    """Raises PayloadError unless key:value parses back as itself."""
    if not _is_key(key):
        raise PayloadError("invalid payload key %r (keys match [a-z_][a-z0-9_]*)" % key)
    if "\0" in value:
        raise PayloadError("the value of %r holds a NUL byte" % key)
    if "," in value:
        for part in value.split(",")[1:]:
            if ":" in part:
                raise PayloadError(
                    "the value of %r has a ':' after a comma, which the payload grammar "
                    "would read as a new key" % key)


def encode(pairs: Iterable[Tuple[str, Optional[Scalar]]]) -> str:
    """The payload of pairs, skipping those whose value is None."""
    out = []
    for key, value in pairs:
        if value is None:
            continue
        text = value if type(value) is str else format_value(value)
        if key not in _good_keys or "," in text or "\0" in text:
            check_pair(key, text)
        out.append(key + ":" + text)
    return ",".join(out)


def parse(result: str, tail: Optional[str] = None) -> Dict[str, str]:
    """The pairs of a result.

    tail names a key the kernel always writes last and whose value is free
    text (a driver's output, a reason): everything after it is its value.
    A token whose would-be key is not a key continues the previous value, so
    free text with ": " in it stays whole.
    """
    pairs: Dict[str, str] = {}
    if tail is not None:
        at = result.find("," + tail + ":")
        if at >= 0:
            pairs_tail = result[at + len(tail) + 2:]
            result = result[:at]
        elif result.startswith(tail + ":"):
            pairs_tail, result = result[len(tail) + 1:], ""
        else:
            pairs_tail = None
    last: Optional[str] = None
    if result:
        for token in result.split(","):
            key, sep, value = token.partition(":")
            if sep and (key in _good_keys or _is_key(key)):
                pairs[key] = value
                last = key
            elif last is not None:
                pairs[last] += "," + token
            else:
                raise ValueError("result %r does not start with key:value" % result[:64])
    if tail is not None and pairs_tail is not None:
        pairs[tail] = pairs_tail
    return pairs
