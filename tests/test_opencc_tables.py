"""normalize passes to OpenCC only the texts `changing_pattern` selects: every text OpenCC would change is
among them (each CJK character alone, each dictionary key alone and inside a sentence), for every config."""

from pathlib import Path

import polars as pl
import pytest

from stages.clean.normalize_text import OPENCC_CONFIGS, convert_script, converter
from stages.clean.opencc_tables import changing_pattern, entries

CJK = [*range(0x2E80, 0x2FE0), *range(0x3000, 0xA000), *range(0xF900, 0xFB00), *range(0x20000, 0x323B0)]


@pytest.mark.parametrize("config", OPENCC_CONFIGS)
def test_every_text_opencc_changes_is_selected(config):
    pattern = changing_pattern(config)
    assert pattern is not None  # the pinned wheel's dictionaries are readable: the fast path is on
    keys = sorted({key for key, _ in entries(Path(converter(config).config))})
    texts = [chr(code) for code in CJK] + keys + [f"我们{key}的" for key in keys]
    selected = pl.Series(texts).str.contains(pattern).to_list()
    changed = {text for text, after in zip(texts, convert_script(texts, config)) if after != text}
    missed = [text for text, chosen in zip(texts, selected) if text in changed and not chosen]
    assert len(changed) > 4000 and missed == []
    assert sum(selected) < len(texts) / 4  # most text never reaches OpenCC


def test_without_the_dictionaries_every_text_is_converted(monkeypatch):
    from stages.clean import opencc_tables
    from stages.clean.normalizing import normalize_texts
    from stages.clean.normalize_text import NormalizeParams
    from stages.clean.steps import StepTimer

    texts = pl.DataFrame({"instruction": ["體育", "数据"], "input": ["", ""], "output": ["軟體", "好"]})
    configs = pl.Series(["t2s", "t2s"])
    params = NormalizeParams(opencc_default="t2s", opencc_by_source={}, width=True, punct=True)
    fast, fast_log = normalize_texts(texts, configs, params, StepTimer())
    monkeypatch.setattr(opencc_tables, "_dict_files", lambda config: iter(["missing.ocd2"]))
    opencc_tables.changing_pattern.cache_clear()
    try:
        assert opencc_tables.changing_pattern("t2s") is None
        slow, slow_log = normalize_texts(texts, configs, params, StepTimer())
    finally:
        opencc_tables.changing_pattern.cache_clear()
    assert slow.equals(fast) and fast["instruction"].to_list() == ["体育", "数据"]
    assert slow_log.counts() == fast_log.counts() == {"opencc:t2s": 1}
