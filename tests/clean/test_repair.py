"""Each repair of the clean stage, the tag it leaves in transforms, and what it must not touch."""

import pytest

from stages.clean.html import html_to_text
from tests.clean.fixtures import clean_many, clean_one


def test_clean_text_gets_no_tags():
    assert clean_one("这是一段干净的文字。\n第二行。") == ("这是一段干净的文字。\n第二行。", [])


def test_html_to_text_keeps_code_verbatim():
    html = ('<h2>标题</h2><p>第一段&nbsp;文字，见<a href="https://example.com/doc?a=1&amp;b=2">文档</a>。</p>'
            '<pre><code class="js"><span class="kw">if</span> (a &lt; b) {\n  return &quot;x&quot;;\n}</code></pre>'
            '<ul><li>甲</li><li>乙</li></ul><p>用 <code>&lt;div&gt;</code> 包裹<br/>换行</p>')
    text, tags = clean_one(html)
    assert text == ("## 标题\n\n第一段 文字，见[文档](https://example.com/doc?a=1&b=2)。\n\n"
                    "```\nif (a < b) {\n  return \"x\";\n}\n```\n\n- 甲\n- 乙\n\n用 `<div>` 包裹\n换行")
    assert tags == ["clean:html", "clean:whitespace"]


def test_html_leaves_markdown_code_latex_and_div_samples_alone():
    text = "说明<p>段落</p>\n```html\n<p>保留&amp;</p>\n```\n公式 $a<b$ 和 `<br>`"
    assert html_to_text(text) == "说明\n段落\n\n```html\n<p>保留&amp;</p>\n```\n公式 $a<b$ 和 `<br>`"
    sample = '比如有一个样式:\n<div className="title">标题</div>，怎么加高亮'
    assert clean_one(sample) == (sample, [])


def test_entities_that_decode_to_invisible_characters_are_removed_too():
    text, tags = clean_one("<p>零&#8203;宽&shy;字符</p>")
    assert text == "零宽字符" and tags == ["clean:html", "clean:zero_width", "clean:whitespace"]


def test_entities_need_a_semicolon():
    assert html_to_text("a &lt; b，链接 https://x.cn/?a=1&copy=2") == "a < b，链接 https://x.cn/?a=1&copy=2"


def test_markdown_unescape_outside_code_and_latex():
    text = "步骤：\n2\\. 打开文件\n\\- 列表项\n\\# 不是标题\n这是\\*重点\\*和 snake\\_case，公式 $a\\_1$，代码 `a\\_b`"
    out, tags = clean_one(text)
    assert out == "步骤：\n2. 打开文件\n- 列表项\n# 不是标题\n这是*重点*和 snake_case，公式 $a\\_1$，代码 `a\\_b`"
    assert tags == ["clean:markdown_unescape"]


def test_escaped_backslash_and_regex_escapes_stay():
    assert clean_one("路径 C:\\\\* 与正则 a\\.b 和 \\d+")[0] == "路径 C:\\\\* 与正则 a\\.b 和 \\d+"


def test_literal_backslash_n_next_to_chinese_becomes_a_line_break():
    out, tags = clean_one("第一步；\\n第二步。代码 printf(\"%d\\n\") 不变")
    assert out == "第一步；\n第二步。代码 printf(\"%d\\n\") 不变"
    assert tags == ["clean:markdown_unescape"]


def test_zero_width_removed_but_emoji_joiners_kept():
    out, tags = clean_one("学生\u200d野生眉\u200b怎么画\ufeff 👨🏻\u200d🔬 🙅🏻\u200d♂️ 软\u00ad连字符")
    assert out == "学生野生眉怎么画 👨🏻\u200d🔬 🙅🏻\u200d♂️ 软连字符"
    assert tags == ["clean:zero_width"]


def test_control_characters_and_noncharacters_removed_from_prose_only():
    out, tags = clean_one("响铃\x07字符\x1b和\ufdd5非字符\n```\nraw\x07bell\n```")
    assert out == "响铃字符和非字符\n```\nraw\x07bell\n```"
    assert tags == ["clean:control"]


def test_whitespace_normalised_but_code_indentation_kept():
    text = ("\u3000\u3000缩进段落  多个   空格 \r\n\r\n\r\n\r\n第二段\u00a0不间断\u2028分行"
            "\n```py\nif x:\n    y  = 1   \n```\n")
    out, tags = clean_one(text)
    assert out == "缩进段落 多个 空格\n\n第二段 不间断\n分行\n```py\nif x:\n    y  = 1   \n```"
    assert tags == ["clean:whitespace"]


def test_mojibake_fixed_without_touching_chinese_punctuation_or_width():
    broken = "数据清洗“很重要”。".encode("utf-8").decode("latin-1")
    out, tags = clean_one(broken)
    assert out == "数据清洗“很重要”。"
    assert tags == ["clean:mojibake"]
    assert clean_one("Café 与 naïve，“引号”和全角ＡＢＣ") == ("Café 与 naïve，“引号”和全角ＡＢＣ", [])


def test_code_blocks_survive_byte_for_byte():
    code = "```python\n# 注释\u200b保留\ndef f(a,  b):\n\treturn a\\.b  \r\n\n\n\n```"
    texts, tags, _ = clean_many([f"前文\u200b\n{code}\n后文", f"`x\u00a0\u00a0y` 与 {code}"])
    assert texts == [f"前文\n{code}\n后文", f"`x\u00a0\u00a0y` 与 {code}"]
    assert tags == [["clean:zero_width"], []]


@pytest.mark.parametrize("text", ["", "   ", "\n\n"])
def test_blank_texts_become_empty(text):
    assert clean_one(text)[0] == ""
