"""The set of traditional-only Chinese characters, built once from OpenCC.

A character counts as traditional-only when OpenCC's `t2s` conversion changes
it and no character converts *to* it (so a character that is also a valid
simplified form, such as 苧, is left out). The set is computed over the CJK
Unified Ideographs blocks (BMP, Extension A, Compatibility Ideographs and
Extensions B-F) and stored in `traditional_chars.txt` next to this module, so
validating does not need OpenCC; a test checks the file still matches OpenCC.

Some characters stay after a correct phrase-level t2s conversion (徵 in
宫商角徵羽, 乾 in 乾隆), which is why the suites allow a small tolerance.

Regenerate after upgrading OpenCC:
    python -m stages.validate.tradchars
"""

from __future__ import annotations

import functools
from pathlib import Path

DATA_PATH = Path(__file__).resolve().with_name("traditional_chars.txt")
CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2EBEF))


def build_traditional_chars() -> str:
    """Compute the traditional-only characters with OpenCC (sorted by code point)."""
    import opencc

    chars = [chr(cp) for lo, hi in CJK_RANGES for cp in range(lo, hi + 1)]
    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):
        raise RuntimeError("OpenCC changed the number of lines; cannot map characters one to one")
    targets = set(converted)
    return "".join(c for c, s in zip(chars, converted) if s != c and c not in targets)


@functools.cache
def traditional_chars() -> str:
    """The stored set, one string of characters sorted by code point."""
    return DATA_PATH.read_text(encoding="utf-8").strip()


def write_data_file(target: Path = DATA_PATH) -> int:
    from stages.lib.io import write_text

    chars = build_traditional_chars()
    write_text(chars + "\n", target)
    return len(chars)


if __name__ == "__main__":
    print(f"wrote {write_data_file()} characters to {DATA_PATH}")
