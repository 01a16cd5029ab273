"""`{{ inputs.customer }}`, `{{ steps.fetch.output.name }}`, `{{ context.tone }}` in step arguments. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_REFERENCE = re.compile(r"\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*\}\}")
ROOTS = ("inputs", "steps", "context")


class TemplateError(ValueError):
    """A reference that names nothing; the message says which."""


def _lookup(path: str, scope: Mapping[str, Any]) -> Any:
    root, *rest = path.split(".")
    if root not in ROOTS:
        raise TemplateError(f"{{{{ {path} }}}}: references start with {', '.join(ROOTS)}")
    value: Any = scope.get(root, {})
    for part in rest:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise TemplateError(f"{{{{ {path} }}}}: there is no {part!r} there")
    return value


def render(value: Any, scope: Mapping[str, Any]) -> Any:
    """A string that is one reference becomes the value itself (a number stays a number); references
    inside longer strings are written in as text."""
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value.strip())
        if whole:
            return _lookup(whole.group(1), scope)
        return _REFERENCE.sub(lambda m: str(_lookup(m.group(1), scope)), value)
    if isinstance(value, dict):
        return {k: render(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, scope) for v in value]
    return value


def references(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from (m.group(1) for m in _REFERENCE.finditer(value))
    elif isinstance(value, dict):
        for v in value.values():
            yield from references(v)
    elif isinstance(value, list):
        for v in value:
            yield from references(v)
