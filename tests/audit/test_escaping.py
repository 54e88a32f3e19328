"""Issue 22 probes 15 and 16: hostile record text and params through `audit summary`, `trace` and `diff`.

A real temp git + DVC repo (the project's `scrape` and the mini stages of
tests/audit/mini_pipeline.py) with records holding NUL, an ESC sequence, a
right-to-left override, `<script>`, `<img onerror>`, `|` and line breaks:

- commit A: cqia_zhihu with a kept hostile record (line 1) and one whose output is too
  short (line 2, dropped by clean with its text shown as an example);
- commit B: line 1's output edited (a changed record: a text diff), the source's
  `license` in params.yaml set to `<script>` plus a line break (a params row).

Every format must show the characters visibly (`\\x1b`, `⟨U+202E⟩`) and never raw;
Markdown must keep each value in its table cell and pass no HTML; HTML must escape it.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from stages.audit.__main__ import cli
from stages.lib.record import make_id
from tests.audit.repo_builder import (commit, cqia_line, cqia_source, dvc, init_repo, write_lines, write_params,
                                       write_pipeline)

pytestmark = pytest.mark.e2e

INSTRUCTION = "NUL\x00 ESC\x1b[2J RTL\u202eevil？"
OUTPUT_A = "<script>alert(1)</script> a|b\x1b[31m\nnext <img src=x onerror=alert(1)>\u202e"
OUTPUT_B = "<script>alert(2)</script> a|b\x1b[31m\nnext <img src=x onerror=alert(1)>\u202e"
SHORT = cqia_line("短\x1b]0;title\x07", "<b>")
LICENSE = "CC0-1.0 <script>x</script>\n| y |"
RAW = ("\x00", "\x1b", "\x07", "\u202e")


def rid(line: int) -> str:
    return make_id("cqia_zhihu", f"zhihu.jsonl:{line}")


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("escape") / "repo"
    root.mkdir()
    init_repo(root)
    params = {"sources": {"cqia_zhihu": cqia_source("zhihu")}, "clean": {"min_output_chars": 4}, "rule": "none",
              "assemble": {"eval_sources": []}}
    write_pipeline(root)
    write_params(root, params)
    write_lines(root / "inputs" / "zhihu.jsonl", [cqia_line(INSTRUCTION, OUTPUT_A), SHORT])
    dvc(root, "repro")
    a = commit(root, "A: hostile records")
    params["sources"]["cqia_zhihu"] = cqia_source("zhihu", LICENSE)
    write_params(root, params)
    write_lines(root / "inputs" / "zhihu.jsonl", [cqia_line(INSTRUCTION, OUTPUT_B), SHORT])
    dvc(root, "repro")
    b = commit(root, "B: output edited, hostile license")
    return {"root": root, "a": a, "b": b}


def audit(repo: dict, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--repo", str(repo["root"])])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def no_raw(text: str) -> None:
    assert not any(char in text for char in RAW), [char for char in RAW if char in text]


def test_summary_shows_hostile_text_visibly_in_every_format(repo):
    table = audit(repo, "summary", repo["b"], "--width", "300")
    no_raw(table)
    assert (f"{rid(2)}   zhihu    instruction: 短\\x1b]0;title\\x07 | output: <b>   "
            "output has 3 chars < min_output_chars 4") in table
    md = audit(repo, "summary", repo["b"], "--md")
    no_raw(md)
    assert (f"| {rid(2)} | zhihu | instruction: 短\\\\x1b]0;title\\\\x07 \\| output: &lt;b&gt; "
            "| output has 3 chars &lt; min_output_chars 4 |\n") in md
    page = audit(repo, "summary", repo["b"], "--html")
    no_raw(page)
    assert (f"<tr><td>{rid(2)}</td><td>zhihu</td><td>instruction: 短\\x1b]0;title\\x07 | output: &lt;b&gt;</td>"
            "<td>output has 3 chars &lt; min_output_chars 4</td></tr>") in page
    assert "<b>" not in page


SHOWN_B = ("  instruction: NUL\\x00 ESC\\x1b[2J RTL⟨U+202E⟩evil？\n"
           "  output: <script>alert(2)</script> a|b\\x1b[31m\nnext <img src=x onerror=alert(1)>⟨U+202E⟩")


def test_trace_shows_hostile_text_visibly_in_every_format(repo):
    table = audit(repo, "trace", rid(1), "--rev", repo["b"], "--width", "300")
    no_raw(table)
    assert f"scrape@cqia_zhihu (kept): as it left this stage\n{SHOWN_B}\n" in table
    md = audit(repo, "trace", rid(1), "--rev", repo["b"], "--md")
    no_raw(md)
    assert f"**scrape@cqia_zhihu (kept): as it left this stage**\n\n```diff\n{SHOWN_B}\n```\n" in md  # literal
    page = audit(repo, "trace", rid(1), "--rev", repo["b"], "--html")
    no_raw(page)
    assert ('<div class="title">scrape@cqia_zhihu (kept): as it left this stage</div><pre>'
            "  instruction: NUL\\x00 ESC\\x1b[2J RTL⟨U+202E⟩evil？\n"
            "  output: &lt;script&gt;alert(2)&lt;/script&gt; a|b\\x1b[31m\n"
            "next &lt;img src=x onerror=alert(1)&gt;⟨U+202E⟩</pre>") in page
    assert "<script" not in page and "<img" not in page
    data = audit(repo, "trace", rid(1), "--rev", repo["b"], "--json")
    no_raw(data)
    assert '"instruction": "NUL\\u0000 ESC\\u001b[2J RTL\\u202eevil？"' in data
    assert json.loads(data)["texts"][0]["text"]["instruction"] == INSTRUCTION  # the data itself is unchanged


OUTPUT_DIFF = ("  - <script>alert(1)</script> a|b\\x1b[31m\n  + <script>alert(2)</script> a|b\\x1b[31m\n"
               "    next <img src=x onerror=alert(1)>⟨U+202E⟩")


def test_diff_shows_hostile_text_and_params_visibly_in_every_format(repo):
    table = audit(repo, "diff", repo["a"], repo["b"], "--width", "300")
    no_raw(table)
    assert f"output:\n  @@ -1,2 +1,2 @@\n{OUTPUT_DIFF}\n" in table
    assert ("sources.cqia_zhihu.license   CC0-1.0   CC0-1.0 <script>x</script>\n"
            "                                       | y |") in table
    md = audit(repo, "diff", repo["a"], repo["b"], "--md")
    no_raw(md)
    assert f"output:\n  @@ -1,2 +1,2 @@\n{OUTPUT_DIFF}\n```\n" in md  # inside the diff fence: literal text
    assert "| sources.cqia_zhihu.license | CC0-1.0 | CC0-1.0 &lt;script&gt;x&lt;/script&gt;<br>\\| y \\| |\n" in md
    outside_fences = "".join(md.split("```")[::2])
    assert "<script" not in outside_fences and "<img" not in outside_fences
    page = audit(repo, "diff", repo["a"], repo["b"], "--html")
    no_raw(page)
    assert ('<span class="add">  + &lt;script&gt;alert(2)&lt;/script&gt; a|b\\x1b[31m</span>\n'
            "    next &lt;img src=x onerror=alert(1)&gt;⟨U+202E⟩</pre>") in page
    assert ("<tr><td>sources.cqia_zhihu.license</td><td>CC0-1.0</td>"
            "<td>CC0-1.0 &lt;script&gt;x&lt;/script&gt;\n| y |</td></tr>") in page
    assert "<script" not in page and "<img" not in page
