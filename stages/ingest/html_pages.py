"""Parsers that turn one fetched HTML page into record content.

- `parse_tieba_thread`: a Baidu Tieba thread page (e.g. a 弱智吧 post). Keeps the
  thread title, plus the first post's text when it adds something, as the
  instruction (replies are not read); the output is left empty for the rewrite
  stage. Author names (`.p_author_name`) are removed from
  the page before anything is read, so they can never reach a record.
- `parse_qa_page`: a generic Q&A page read with configured CSS selectors; code
  blocks are kept as fenced Markdown so answers stay usable.

Both raise `ParseError` when a required part is missing; the caller turns that
into a rejected row (`scrape_parse_failed`).
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

from stages.ingest.build import Content

_SKIPPED_TAGS = {"script", "style", "img", "noscript", "template"}
_SKIPPED_TEXT = (Comment, Declaration, Doctype, ProcessingInstruction)
_PARAGRAPHS = {"p", "pre", "blockquote", "table", "ul", "ol", "dl", "h1", "h2", "h3", "h4", "h5", "h6"}
_LINES = {"div", "li", "tr", "dt", "dd", "section", "article", "header", "footer", "hr"}
_POST_ID = re.compile(r"/p/(\d+)")
_FENCE = "```"


class ParseError(Exception):
    """A page lacks a part the parser needs (the caller rejects it as `scrape_parse_failed`)."""


def tieba_post_id(url: str) -> str | None:
    match = _POST_ID.search(url)
    return match.group(1) if match else None


def _break(out: list[str], blank: bool) -> None:
    out.append("\n\n" if blank else "\n")


def _fence(pre: Tag) -> str:
    code = pre.find("code")
    classes = (code if isinstance(code, Tag) else pre).get("class") or []
    lang = next((c.removeprefix("language-").removeprefix("lang-") for c in classes
                 if c.startswith(("language-", "lang-"))), "")
    body = pre.get_text().strip("\n")
    return f"\n{_FENCE}{lang}\n{body}\n{_FENCE}\n"


def _render(node: Tag, out: list[str]) -> None:
    """Append the text of `node`: <br> and block tags as line breaks, code as Markdown."""
    for child in node.children:
        if isinstance(child, _SKIPPED_TEXT):
            continue
        if isinstance(child, NavigableString):
            out.append(re.sub(r"\s+", " ", str(child)))
        elif not isinstance(child, Tag) or child.name in _SKIPPED_TAGS:
            continue
        elif child.name == "br":
            out.append("\n")
        elif child.name == "pre":
            out.append(_fence(child))
        elif child.name == "code":
            out.append(f"`{child.get_text()}`")
        elif child.name in _PARAGRAPHS or child.name in _LINES:
            blank = child.name in _PARAGRAPHS
            _break(out, blank)
            out.append("- " if child.name == "li" else "")
            _render(child, out)
            _break(out, blank)
        else:
            _render(child, out)


def _tidy(text: str) -> str:
    """Strip lines and collapse blank runs outside code fences; keep code lines as they are."""
    lines: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if line.strip().startswith(_FENCE):
            in_code = not in_code
            lines.append(line.strip())
        elif in_code:
            lines.append(line.rstrip())
        elif line.strip() or (lines and lines[-1]):
            lines.append(line.strip())
    return "\n".join(lines).strip("\n")


def element_text(node: Tag) -> str:
    out: list[str] = []
    _render(node, out)
    return _tidy("".join(out))


def _soup(html: str) -> BeautifulSoup:
    soup = BeautifulSoup(html, "html.parser")
    for author in soup.select(".p_author_name"):
        author.decompose()
    return soup


def _tieba_title(soup: BeautifulSoup) -> str:
    node = soup.select_one(".core_title_txt") or soup.select_one("h1.core_title, h3.core_title")
    if node is None:
        raise ParseError("no thread title (.core_title_txt): not a Tieba thread page")
    title = str(node.get("title") or "").strip() or element_text(node)
    if not title:
        raise ParseError("thread title (.core_title_txt) is empty")
    return title


def _reply_count(soup: BeautifulSoup) -> str | None:
    node = soup.select_one(".l_reply_num span.red, .l_reply_num span")
    text = node.get_text(strip=True) if node else ""
    return text if text.isdigit() else None


def _merge(title: str, text: str) -> str:
    """Title, plus the first post when it adds something (same rule as `ruozhiba_dump` picks)."""
    if not text or text in title:
        return title
    if title in text:
        return text
    return f"{title}\n{text}"


def parse_tieba_thread(html: str, url: str) -> Content:
    """Title (+ first post when it adds text) as the instruction; output left "" for the rewrite stage."""
    post_id = tieba_post_id(url)
    if post_id is None:
        raise ParseError("not a thread URL (no /p/<id> in it)")
    soup = _soup(html)
    title = _tieba_title(soup)
    first = soup.select_one(".d_post_content")
    if first is None:
        raise ParseError("no post content (.d_post_content): thread deleted or not a thread page")
    replies = _reply_count(soup)
    metadata = f"tieba_post:{post_id}" + (f", n_reply:{replies}" if replies is not None else "")
    return Content(
        instruction=_merge(title, element_text(first)),
        output="",
        major=["问答"],
        minor=["弱智吧"],
        domain=["通用"],
        metadata=metadata,
        answer_from="human",
    )


def _select_text(soup: BeautifulSoup, selectors: dict[str, str], name: str, *, required: bool) -> str:
    selector = selectors.get(name)
    node = soup.select_one(selector) if selector else None
    text = element_text(node) if node is not None else ""
    if required and not text:
        problem = "matches nothing" if node is None else "matches only empty text"
        raise ParseError(f"{name} selector {selector!r} {problem}")
    return text


def parse_qa_page(html: str, url: str, selectors: dict[str, str]) -> Content:
    """Instruction and output (required), input and metadata (optional) from CSS selectors."""
    soup = _soup(html)
    instruction = _select_text(soup, selectors, "instruction", required=True)
    output = _select_text(soup, selectors, "output", required=True)
    return Content(
        instruction=instruction,
        output=output,
        input=_select_text(soup, selectors, "input", required=False),
        major=["问答"],
        metadata=_select_text(soup, selectors, "metadata", required=False).replace("\n", " "),
        answer_from="human",
    )
