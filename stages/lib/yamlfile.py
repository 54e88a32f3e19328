"""YAML files read with one line per problem: params.yaml and the rule catalog (`read_yaml`).

Beyond PyYAML's own errors (`params.yaml:12:5: not valid YAML: ...`), a file is refused when it is not
UTF-8 (the line and byte offset are named), nests deeper than `MAX_DEPTH` levels (PyYAML recurses per
level: 5,000 levels would be a RecursionError thousands of lines long), or gives a key twice in one
mapping (YAML would keep the last silently; DVC refuses such a params file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_DEPTH = 64  # nesting levels a YAML file may have (params need a handful; PyYAML recurses per level)


def read_yaml(path: str | Path, what: str) -> Any:
    """Parse a YAML file, or raise ValueError with one line naming the file (`what` says what it should
    be): not found, not UTF-8 (line and byte offset), not YAML, nested deeper than MAX_DEPTH, or a key
    given twice in one mapping (YAML would keep the last silently; DVC refuses such a file)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: {what} not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                         "save the file as UTF-8") from None
    try:
        check_depth(path, text)
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            check_unique_keys(path, node)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise ValueError(yaml_error_line(path, exc)) from None


def check_depth(path: Path, text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH, from the parser's events (no recursion, whatever the depth)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError(f"{path}:{event.start_mark.line + 1}: nested deeper than {MAX_DEPTH} levels; "
                                 "a params file needs only a few")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def check_unique_keys(path: Path, root: yaml.Node) -> None:
    """Refuse a key given twice in one mapping: `<file>: <key path>: given twice (lines 3 and 7); ...`."""
    todo: list[tuple[yaml.Node, list[str]]] = [(root, [])]
    while todo:
        node, where = todo.pop()
        if isinstance(node, yaml.SequenceNode):
            todo += [(item, [*where, str(i)]) for i, item in enumerate(node.value)]
        if not isinstance(node, yaml.MappingNode):
            continue
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else None
            if name is not None and name != "<<":
                if name in seen:
                    raise ValueError(f"{path}: {'.'.join([*where, name])}: given twice (lines {seen[name]} and "
                                     f"{key.start_mark.line + 1}); YAML would keep only the last: remove one")
                seen[name] = key.start_mark.line + 1
            todo.append((value, [*where, name or "?"]))


def yaml_error_line(path: Path, exc: yaml.YAMLError) -> str:
    """`params.yaml:12:5: not valid YAML: mapping values are not allowed here` (one line, not the parser's
    multi-line report)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    return f"{where}: not valid YAML: {problem}" + (f" ({context})" if context else "")
