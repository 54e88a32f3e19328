"""Which texts an OpenCC config can change, read from the config's own dictionaries.

OpenCC changes a text only where one of its dictionary keys whose (first) value differs from the
key occurs in it: a changing key. So a text that contains no changing key comes back unchanged,
and `normalize` need not pass it to OpenCC at all (most Chinese text is already simplified:
on the shared real data, 3 % of the texts hold such a key). `changing_pattern(config)` is a regex
that matches every text holding a changing key of the config, as a character class of every
character that is a changing key by itself, plus, literally, each longer changing key none of
whose characters is one (`回覆` -> `回复`, `深沈` -> `深沉`: 覆 and 沈 alone stay). It can only say
too much (a key's character where the key does not apply), never too little, so converting just
the matching texts gives byte-identical output.

The keys come from every dictionary the config's JSON names (normalisation, segmentation and
conversion chain), dumped to text with the `opencc_dict` tool the OpenCC wheel ships. Where the
dictionaries cannot be read, `changing_pattern` is None and every text is converted (slower, the
same output).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any


def _dict_files(config: Any) -> Iterator[str]:
    """Every `file` a config's JSON names, wherever it stands (groups nest)."""
    if isinstance(config, dict):
        if isinstance(config.get("file"), str):
            yield config["file"]
        for value in config.values():
            yield from _dict_files(value)
    elif isinstance(config, list):
        for value in config:
            yield from _dict_files(value)


def _as_text(paths: list[Path], tool: Path, tmp: Path) -> list[Path]:
    """The dictionaries as text: text ones as they are, ocd2 ones dumped by `opencc_dict` (side by side)."""
    dumps = {path: tmp / f"{index}.txt" for index, path in enumerate(paths) if path.suffix == ".ocd2"}
    running = [subprocess.Popen([str(tool), "-i", str(path), "-o", str(text), "-f", "ocd2", "-t", "text"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for path, text in dumps.items()]
    if any(process.wait() != 0 for process in running):
        raise OSError("opencc_dict failed")
    return [dumps.get(path, path) for path in paths]


def entries(config_path: Path) -> list[tuple[str, str]]:
    """(key, first value) of every entry of every dictionary a config names."""
    share = config_path.parent
    tool = share.parents[1] / "bin" / "opencc_dict"
    files = [share / name for name in dict.fromkeys(_dict_files(json.loads(config_path.read_text(encoding="utf-8"))))]
    found = []
    with tempfile.TemporaryDirectory(prefix="opencc-") as tmp:
        for text in _as_text(files, tool, Path(tmp)):
            for line in text.read_text(encoding="utf-8").splitlines():
                key, _, values = line.partition("\t")
                if key:
                    found.append((key, values.split(" ")[0]))
    return found


def changing_keys(config_path: Path) -> set[str]:
    """The keys of a config's dictionaries that OpenCC replaces by something else."""
    return {key for key, value in entries(config_path) if value != key}


def pattern_of(keys: set[str]) -> str:
    """A regex matching every text that holds one of `keys` (see the module docstring)."""
    chars = sorted({key for key in keys if len(key) == 1})
    covered = set(chars)
    phrases = sorted(key for key in keys if len(key) > 1 and not covered.intersection(key))
    ranges: list[list[int]] = []
    for code in map(ord, chars):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    klass = "".join(f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    literals = ["".join(f"\\x{{{ord(c):X}}}" for c in phrase) for phrase in phrases]
    return "|".join(([f"[{klass}]"] if klass else []) + literals)


@lru_cache(maxsize=8)
def changing_pattern(config: str) -> str | None:
    """`pattern_of` the changing keys of an OpenCC config (`t2s`, ...); None where they cannot be read."""
    from stages.clean.normalize_text import converter

    try:
        keys = changing_keys(Path(converter(config).config))
    except (OSError, ValueError, UnicodeDecodeError, subprocess.CalledProcessError):
        return None
    return pattern_of(keys) if keys else None
