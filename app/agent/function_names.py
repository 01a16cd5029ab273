"""Registry names as function names a model accepts (`^[a-zA-Z0-9_-]{1,64}$`), and back. Pure."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_-]")
MAX_LENGTH = 64


class FunctionNames:
    def __init__(self, tool_names: Iterable[str]) -> None:
        self._to_function: dict[str, str] = {}
        self._to_tool: dict[str, str] = {}
        for tool in sorted(set(tool_names)):
            function = _NOT_ALLOWED.sub("_", tool)[:MAX_LENGTH]
            if function in self._to_tool or function != tool.replace(".", "_")[:MAX_LENGTH]:
                # A clash ("a.b" and "a_b"), or a name cut or changed beyond its dots: made unique by a hash.
                digest = hashlib.sha1(tool.encode()).hexdigest()[:8]
                function = f"{function[:MAX_LENGTH - 9]}_{digest}"
            self._to_function[tool] = function
            self._to_tool[function] = tool

    def function(self, tool: str) -> str:
        """The function name of a registry name; a name the registry lacks (a model's mistake) stays as it is."""
        return self._to_function.get(tool, tool)

    def tool(self, function: str) -> str | None:
        return self._to_tool.get(function)
