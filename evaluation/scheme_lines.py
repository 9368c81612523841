"""Where things are in a scheme file: line numbers of YAML nodes, so a refusal can name the line."""

from __future__ import annotations

from typing import Any

import yaml

Path_ = tuple[str | int, ...]


def node_lines(text: str) -> dict[Path_, int]:
    """Path (keys and list indexes from the top) → 1-based line of that node, for every node in the file."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    out: dict[Path_, int] = {}

    def walk(node: Any, path: Path_) -> None:
        out[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                k = str(key.value)
                out[(*path, k)] = key.start_mark.line + 1
                walk(value, (*path, k))
                out[(*path, k)] = key.start_mark.line + 1  # the key's line, not the value's
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return out


def line_of(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line of ``path`` or of its nearest ancestor that has one."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None
