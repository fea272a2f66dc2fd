# SPDX-License-Identifier: Apache-2.0
"""How `cam` prints results and errors: plain lines for people, one JSON
object with --json. Bytes are printed as base64 in JSON (`<field>_base64`),
with a `text` beside them when they are UTF-8."""
from __future__ import annotations

import base64
import dataclasses
import json
import sys
from typing import Any, Dict, TextIO

from .errors import CamError
from .results import ContextValue, Health, Pong


def to_json(value: Any) -> Any:
    """A result (dataclass, mapping, tuple, bytes...) as JSON-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: Dict[str, Any] = {}
        # request_id (a base-class field, so first) goes last.
        names = [f.name for f in dataclasses.fields(value) if f.name != "pairs"]
        if "request_id" in names:
            names.remove("request_id")
            names.append("request_id")
        for name in names:
            item = getattr(value, name)
            if isinstance(item, bytes):
                out[name + "_base64"] = base64.b64encode(item).decode("ascii")
                try:
                    if item:
                        out["text"] = item.decode("utf-8")
                except UnicodeDecodeError:
                    pass
            else:
                out[name] = to_json(item)
        if isinstance(value, Health):
            out["serving"] = value.serving
        return out
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _text(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def _lines(value: Any, indent: str = "") -> str:
    data = to_json(value)
    rows = []
    for k, v in data.items():
        if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
            rows.append("%s%s:" % (indent, k))
            for name, sub in v.items():
                rows.append("%s  %s: %s" % (indent, name, ", ".join(
                    "%s=%s" % (a, b) for a, b in sub.items() if a != "name")))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            rows.append("%s%s:" % (indent, k))
            for sub in v:
                rows.append("%s  %s" % (indent, "  ".join("%s=%s" % kv for kv in sub.items())))
        elif isinstance(v, dict):
            rows.append("%s%s: %s" % (indent, k, ", ".join("%s=%s" % kv for kv in v.items())))
        elif isinstance(v, list):
            rows.append("%s%s: %s" % (indent, k, ", ".join(str(x) for x in v)))
        elif v is not None and not k.endswith("_base64"):
            rows.append("%s%s: %s" % (indent, k, _text(v)))
    return "\n".join(rows)


def show(value: Any, as_json: bool, out: TextIO = sys.stdout) -> None:
    """Prints one result."""
    if as_json:
        out.write(json.dumps(to_json(value), ensure_ascii=False) + "\n")
    elif isinstance(value, ContextValue):
        # A value prints as itself, so `cam context read ns k > file` works.
        out.flush()
        sys.stdout.buffer.write(value.data) if out is sys.stdout else out.write(value.text())
        out.flush()
    elif isinstance(value, Pong):
        echo = ", ".join("%s=%s" % kv for kv in value.echo.items())
        out.write("pong (%s, request %s)\n" % (echo, value.request_id))
    else:
        out.write(_lines(value) + "\n")


def show_error(error: CamError, as_json: bool, err: TextIO = sys.stderr) -> None:
    if as_json:
        err.write(json.dumps({"error": {"code": error.code.name, "code_number": int(error.code),
                                        "message": error.message,
                                        "request_id": error.request_id,
                                        "verb": error.verb}}) + "\n")
    else:
        err.write("cam: %s\n" % error)
