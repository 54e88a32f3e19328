"""stages/lib/escape.py: what each target makes of hostile text, exactly."""

from __future__ import annotations

import json

from stages.lib import escape

HOSTILE = ("a\x00b\x1b[31mred\x7f\x9b<script>alert(1)</script>|x\n"
           "y\u202ez\u2066\u200e\u061c\u200b\U000e0041&\\")


def test_visible_shows_controls_bidi_and_format_characters_and_keeps_layout_and_text():
    assert escape.visible(HOSTILE) == ("a\\x00b\\x1b[31mred\\x7f\\x9b<script>alert(1)</script>|x\n"
                                       "y⟨U+202E⟩z⟨U+2066⟩⟨U+200E⟩⟨U+061C⟩⟨U+200B⟩⟨U+E0041⟩&\\")
    assert escape.visible("tab\tcr\r\u2028\u00ad\ud800") == "tab\tcr\\x0d⟨U+2028⟩⟨U+00AD⟩⟨U+D800⟩"
    assert escape.visible("中文 English，emoji 😀 　全角") == "中文 English，emoji 😀 　全角"  # nothing to show
    assert escape.terminal(HOSTILE) == escape.visible(HOSTILE)


def test_markdown_keeps_a_value_in_its_cell_and_passes_no_html():
    assert escape.markdown(HOSTILE) == (
        "a\\\\x00b\\\\x1b[31mred\\\\x7f\\\\x9b&lt;script&gt;alert(1)&lt;/script&gt;\\|x<br>"
        "y⟨U+202E⟩z⟨U+2066⟩⟨U+200E⟩⟨U+061C⟩⟨U+200B⟩⟨U+E0041⟩&amp;\\\\")
    assert escape.markdown('<img src=x onerror="alert(1)">') == '&lt;img src=x onerror="alert(1)"&gt;'


def test_markdown_code_and_fence_show_text_literally_and_cannot_be_closed_from_inside():
    assert escape.markdown_code("a`b|c\nd\x1b") == "``a`b\\|c d\\x1b``"
    assert escape.markdown_code("`x`") == "`` `x` ``"
    assert escape.markdown_fence("x\n```\n<script>\u202e", "diff") == "````diff\nx\n```\n<script>⟨U+202E⟩\n````"
    assert escape.markdown_fence("plain") == "```\nplain\n```"


def test_html_escapes_markup_and_quotes_and_shows_controls():
    assert escape.html('<img src=x onerror="alert(1)">\x1b\u202e&') == (
        "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;\\x1b⟨U+202E⟩&amp;")


def test_json_text_escapes_what_a_terminal_would_obey_and_keeps_the_data():
    dumped = json.dumps({"t": HOSTILE + "\ud800"}, ensure_ascii=False)
    safe = escape.json_text(dumped)
    assert json.loads(safe) == {"t": HOSTILE + "\ud800"}
    assert safe == ('{"t": "a\\u0000b\\u001b[31mred\\u007f\\u009b<script>alert(1)</script>|x\\n'
                    'y\\u202ez\\u2066\\u200e\\u061c\\u200b\\udb40\\udc41&\\\\\\ud800"}')
    assert safe.encode("utf-8")  # a lone surrogate no longer stops the write
