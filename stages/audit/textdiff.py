"""A readable diff of one changed record, field by field.

For each field that differs: `- old` and `+ new` lines, and for single-line
texts that are mostly alike a `~` line marking the edit inline
(`[-removed-]{+added+}`), which reads well for Chinese text where a whole
answer is one line. Multi-line values get a
unified diff (one line of context). Non-text values are shown as JSON.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

INLINE_LIMIT = 2000  # characters; beyond this the inline marks are skipped (SequenceMatcher is quadratic)
INLINE_MIN_RATIO = 0.5  # below this similarity (e.g. two hashes) the inline marks would be noise


def show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def inline(a: str, b: str) -> str | None:
    """`a` with `[-deleted-]` and `{+inserted+}` marks, or None when the texts are mostly different."""
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < INLINE_MIN_RATIO:
        return None
    out: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(a[i1:i2])
            continue
        if op in ("delete", "replace"):
            out.append(f"[-{a[i1:i2]}-]")
        if op in ("insert", "replace"):
            out.append(f"{{+{b[j1:j2]}+}}")
    return "".join(out)


def field_diff(name: str, old: Any, new: Any) -> list[str]:
    a, b = show(old), show(new)
    a_lines, b_lines = a.split("\n"), b.split("\n")
    lines = [f"{name}:"]
    if len(a_lines) == 1 and len(b_lines) == 1:
        lines += [f"  - {a}", f"  + {b}"]
        marked = inline(a, b) if a and b and max(len(a), len(b)) <= INLINE_LIMIT else None
        if marked is not None:
            lines.append(f"  ~ {marked}")
        return lines
    for line in list(difflib.unified_diff(a_lines, b_lines, lineterm="", n=1))[2:]:
        lines.append(f"  {line}" if line.startswith("@@") else f"  {line[:1] or ' '} {line[1:]}")
    return lines


def record_diff(old: dict[str, Any], new: dict[str, Any], fields: list[str]) -> str:
    """The text diff of the given fields of one record (in the order given)."""
    return "\n".join(line for name in fields for line in field_diff(name, old.get(name), new.get(name)))
