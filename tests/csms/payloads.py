"""The smallest payload a JSON schema accepts: required fields only, first enum values.

Used to send every station request the spec defines without writing each by hand.
"""

from __future__ import annotations

from typing import Any

TIMESTAMP = "2026-01-01T10:00:00.000Z"


def minimal(schema: dict[str, Any], node: dict[str, Any] | None = None) -> Any:
    """A minimal instance of ``node`` (default: the schema root), resolving local $refs."""
    node = schema if node is None else node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return minimal(schema, schema["definitions"][name])
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type", "string")
    if kind == "object":
        props = node.get("properties", {})
        return {key: minimal(schema, props[key]) for key in node.get("required", [])}
    if kind == "array":
        return [minimal(schema, node["items"]) for _ in range(max(1, node.get("minItems", 0)))]
    if kind in ("integer", "number"):
        return int(node.get("minimum", 0))
    if kind == "boolean":
        return False
    fmt = node.get("format")
    if fmt == "date-time":
        return TIMESTAMP
    if fmt == "uri":
        return "https://example.com/x"
    return "x"
