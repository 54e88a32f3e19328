"""Back ends for audit results: Markdown, terminal (rich), one self-contained HTML page, JSON.

`render.py` lays a result out as blocks; these functions write the blocks in one
format each, so every format says the same thing. Every text a block carries
(record text, ids, params, notes) goes through the escaping function for the
format (stages/lib/escape.py): control and bidi characters are shown visibly,
Markdown and HTML cannot be injected, and a value cannot break a table.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from stages.audit.render import Heading, Para, Table, Diff, Items, Svg, Png, Block
from stages.lib import escape


def to_markdown(blocks: list[Block]) -> str:
    md = escape.markdown
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {md(block.text)}")
        elif isinstance(block, Para):
            out.append(md(block.text))
        elif isinstance(block, Items):
            out.append("\n".join(f"- {md(item)}" for item in block.items))
        elif isinstance(block, Table):
            rule = ["---:" if i in block.numeric else "---" for i in range(len(block.headers))]
            lines = [f"| {' | '.join(md(h) for h in block.headers)} |", f"|{'|'.join(rule)}|"]
            lines += [f"| {' | '.join(md(c) for c in row)} |" for row in block.rows]
            out.append("\n".join(lines))
        elif isinstance(block, Diff):
            out.append(f"**{md(block.title)}**\n\n{escape.markdown_fence(block.text, 'diff')}")
        # Svg: HTML only
    return "\n\n".join(out) + "\n"


def _text(value: str, style: str = "") -> Any:
    """A rich Text (printed literally, never as console markup) of `value` escaped for a terminal."""
    from rich.text import Text

    return Text(escape.terminal(value), style=style)


def to_rich(blocks: list[Block], console: Any) -> None:
    from rich import box
    from rich.table import Table as RichTable

    for block in blocks:
        if isinstance(block, Heading):
            style = {1: "bold underline", 2: "bold cyan", 3: "bold"}.get(block.level, "bold")
            console.print()
            console.print(_text(block.text, style=style))
        elif isinstance(block, Para):
            console.print(_text(block.text))
        elif isinstance(block, Items):
            for item in block.items:
                console.print(_text(f"• {item}"))
        elif isinstance(block, Table):
            table = RichTable(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
            for i, header in enumerate(block.short or block.headers):
                table.add_column(_text(header), justify="right" if i in block.numeric else "left", overflow="fold",
                                 no_wrap=i == 0)
            for row in block.rows:
                table.add_row(*[_text(c) for c in row])
            console.print(table)
            if block.short and block.legend:
                console.print(_text(block.legend, style="dim"))
        elif isinstance(block, Diff):
            console.print(_text(block.title, style="bold"))
            for line in block.text.split("\n"):
                marker = line[2:3]
                style = {"-": "red", "+": "green", "~": "yellow", "@": "magenta"}.get(marker, "")
                console.print(_text(line, style=style), soft_wrap=True)


def to_terminal_text(blocks: list[Block], width: int = 160, color: bool = False) -> str:
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system="standard" if color else None,
                      force_terminal=color, highlight=False, emoji=False)
    to_rich(blocks, console)
    return buffer.getvalue()


HTML_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC",sans-serif;margin:2rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1rem}table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f8f8f8;padding:.5rem;overflow-x:auto;white-space:pre-wrap}
.del{color:#b00}.add{color:#070}.mark{color:#860}.hunk{color:#808}.title{font-weight:bold;margin-top:.8rem}
"""


def to_html(blocks: list[Block], title: str) -> str:
    esc = escape.html
    out = ["<!DOCTYPE html>", '<html lang="zh"><head><meta charset="utf-8">',
           f"<title>{esc(title)}</title><style>{HTML_STYLE}</style></head><body>"]
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{esc(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            out.append(f"<p>{esc(block.text)}</p>")
        elif isinstance(block, Items):
            out.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{esc(h)}</th>" for h in block.headers)
            numeric = ' class="n"'
            rows = "".join(
                "<tr>" + "".join(f"<td{numeric if i in block.numeric else ''}>{esc(c)}</td>"
                                 for i, c in enumerate(row)) + "</tr>"
                for row in block.rows
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Diff):
            lines = []
            for line in block.text.split("\n"):
                cls = {"-": "del", "+": "add", "~": "mark", "@": "hunk"}.get(line[2:3])
                lines.append(f'<span class="{cls}">{esc(line)}</span>' if cls else esc(line))
            out.append(f'<div class="title">{esc(block.title)}</div><pre>{chr(10).join(lines)}</pre>')
        elif isinstance(block, Svg):
            out.append(f"<figure>{block.svg}</figure>")
        elif isinstance(block, Png):
            data = base64.b64encode(block.data).decode("ascii")
            out.append(f'<figure><img alt="{esc(block.alt)}" src="data:image/png;base64,{data}"></figure>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def to_json(result: dict[str, Any]) -> str:
    return escape.json_text(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=False)) + "\n"


def render(blocks: list[Block], result: dict[str, Any], fmt: str, title: str, width: int = 160,
           color: bool = False) -> str:
    if fmt == "json":
        return to_json(result)
    if fmt == "md":
        return to_markdown(blocks)
    if fmt == "html":
        return to_html(blocks, title)
    return to_terminal_text(blocks, width=width, color=color)
