"""Protected spans: what counts as code, LaTeX and URL, and that masking round-trips."""

import re

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stages.clean.segments import (CODE, CODE_HINT, CODE_MATH_URL, CODE_MATH_URL_HINT, MATH_URL, MATH_URL_HINT,
                                      SENTINEL, mask, unmask)


@pytest.mark.parametrize("text, spans", [
    ("看代码\n```js\nlet a = 1;\n```\n结束", ["```js\nlet a = 1;\n```"]),
    ("没有闭合\n```\ncode to the end", ["```\ncode to the end"]),
    ("用 `map()` 和 ``a`b`` 两种", ["`map()`", "``a`b``"]),
    ("公式 $$E=mc^2$$ 与 $a_1$ 以及 \\(x\\) 和 \\[y\\]", ["$$E=mc^2$$", "$a_1$", "\\(x\\)", "\\[y\\]"]),
    ("\\begin{align}a&=b\\end{align}后", ["\\begin{align}a&=b\\end{align}"]),
    ("见 https://example.com/a/b?c=1。然后", ["https://example.com/a/b?c=1"]),
    ("网址(www.example.org/x), 好", ["www.example.org/x"]),
    ("价格 $5 和 $ 10 不是公式", []),
])
def test_spans_found(text, spans):
    assert re.findall(CODE_MATH_URL, text) == spans
    hidden = mask(pl.DataFrame({"t": [text]}), CODE_MATH_URL, CODE_MATH_URL_HINT)
    assert hidden.texts["t"][0].count(SENTINEL) == len(spans)
    assert unmask(hidden)["t"][0] == text


def test_nested_masks_unmask_in_reverse_order():
    text = "说明 `code $x$` 和 $y$ 以及 https://a.cn/q"
    frame = pl.DataFrame({"t": [text, "无特殊内容"]})
    code = mask(frame, CODE, CODE_HINT)
    inner = mask(code.texts, MATH_URL, MATH_URL_HINT, "\ufdd1")
    assert inner.texts["t"][0] == "说明 \ufdd0 和 \ufdd1 以及 \ufdd1"
    assert unmask(code, unmask(inner))["t"].to_list() == [text, "无特殊内容"]


ALPHABET = st.sampled_from(list("ab 中文\n`$\\{}()[]:/.?=h") + ["http://", "www.", "```", "$$", "\\(", "\\)"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(ALPHABET, max_size=40).map("".join), min_size=1, max_size=8))
def test_mask_then_unmask_is_identity(texts):
    frame = pl.DataFrame({"t": texts})
    hidden = mask(frame, CODE_MATH_URL, CODE_MATH_URL_HINT)
    assert unmask(hidden)["t"].to_list() == texts
