"""JSON array dumps in any layout: a broken element costs itself only, every element is counted, no byte is lost."""

import json
import re
from pathlib import Path

import polars as pl
import pytest
import yaml
from click.testing import CliRunner

from stages.ingest.json_array import Element, NotAnArray, iter_array_elements
from stages.ingest.scrape import scrape
from stages.ingest.sources import parse_source
from stages.lib.record import make_id
from stages.scrape import cli

PICKS = [{"title": f"第{i}个问题：为什么{i}比{i + 1}小", "abs": None, "href": f"/p/{7000000100 + i}?fr=good",
          "lz": "某用户", "n_reply": str(i)} for i in range(4)]
DEEP = "[" * 100_000 + "]" * 100_000  # the JSON decoder's recursion gives up: bracket matching finds its end
BROKEN = {
    "bad value": '{"title": "坏", "abs": , "href": "/p/1", "lz": "x", "n_reply": "1"}',
    "unterminated string": '{"title": "坏, "abs": null, "href": "/p/1", "lz": "x", "n_reply": "1"}',
    "missing brace": '{"title": "坏", "abs": null, "href": "/p/1", "lz": "x", "n_reply": "1"',
    "wrong closer": '{"title": ["坏"}, "abs": null, "href": "/p/1", "lz": "x", "n_reply": "1"}',
    "too deep for the decoder": DEEP,
    "too deep (65 levels)": "[" * 65 + "]" * 65,
    "garbage": "坏 garbage",
}
STRAY = "a ']' that does not end the array (content follows it)"


def elements(data: bytes) -> list[tuple[str, str | None]]:
    return [(e.raw.decode("utf-8", "replace"), e.problem and e.problem.detail) for e in iter_array_elements(data)]


def uncovered(data: bytes, found: list[Element]) -> bytes:
    """The bytes of `data` that lie in no element (each element's raw bytes must sit at its offset)."""
    covered = bytearray(len(data))
    for element in found:
        assert data[element.offset:element.offset + len(element.raw)] == element.raw
        covered[element.offset:element.offset + len(element.raw)] = b"\1" * len(element.raw)
    return bytes(b for b, c in zip(data, covered) if not c)


def layout(texts: list[str], how: str) -> bytes:
    if how == "one line":
        return ("[" + ",".join(texts) + "]").encode()
    if how == "one per line":
        return ("[\n" + ",\n".join(texts) + "\n]\n").encode()
    if how == "pretty, CRLF, BOM":
        return b"\xef\xbb\xbf" + ("[\r\n  " + ",\r\n  ".join(texts) + "\r\n]\r\n").encode()
    raise ValueError(how)


def pick_texts(broken_at: int, broken: str) -> list[str]:
    texts = [json.dumps(p, ensure_ascii=False) for p in PICKS]
    return texts[:broken_at] + [broken] + texts[broken_at + 1:]


@pytest.mark.parametrize("how", ["one line", "one per line", "pretty, CRLF, BOM"])
@pytest.mark.parametrize("broken_at", [0, 1, 3])
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_element_costs_itself_only_in_any_layout(how, broken_at, case):
    texts = pick_texts(broken_at, BROKEN[case])
    data = layout(texts, how)
    found = list(iter_array_elements(data))
    assert [e.raw.decode() for e in found] == texts
    assert [e.problem is not None for e in found] == [i == broken_at and case != "too deep (65 levels)"
                                                      for i in range(4)]
    assert set(uncovered(data, found)) <= set(b"\xef\xbb\xbf[], \r\n")


@pytest.mark.parametrize("data, expected", [
    (b"[]", []),
    (b" \n[ \r\n ]\n", []),
    (b'[{"a":1},{"a":2},]', [('{"a":1}', None), ('{"a":2}', None)]),  # a trailing comma holds no element
    (b'[,{"a":1},,{"a":2}]', [('{"a":1}', None), ('{"a":2}', None)]),
    (b'[{"a":1} x, {"a":2}]', [('{"a":1} x', "expected ',' or ']' after the element"), ('{"a":2}', None)]),
    (b'[{"a":1} {"a":2}, {"a":3}]',  # a missing comma costs the element before it
     [('{"a":1}', "expected ',' or ']' after the element"), ('{"a":2}', None), ('{"a":3}', None)]),
    (b'[{"a":1}}, {"a":2}]', [('{"a":1}}', "expected ',' or ']' after the element"), ('{"a":2}', None)]),
    (b'[{"a":1}, "a": 2}, {"a":3}]',  # a lost '{': the fragment up to the next element is one element
     [('{"a":1}', None), ('"a": 2}', "expected ',' or ']' after the element"), ('{"a":3}', None)]),
    (b'[{"a":"1"},{"a":"2},{"a":"3"},{"a":"4"}]',
     [('{"a":"1"}', None), ('{"a":"2}', "Expecting ',' delimiter"), ('{"a":"3"}', None), ('{"a":"4"}', None)]),
    (b'[{"a":"x\\"}]", "b": 1}, {"c": "}],"}]', [('{"a":"x\\"}]", "b": 1}', None), ('{"c": "}],"}', None)]),
    (b'[1, 2 3, "x", null]', [("1", None), ("2 3", "expected ',' or ']' after the element"), ('"x"', None),
                              ("null", None)]),
    (b'[{"a":1}] [{"b":2}]', [('{"a":1}', None), ('] [{"b":2}', STRAY)]),  # a second array is not dropped
    (b'[{"a":1},]{"a":2},{"a":3}]', [('{"a":1}', None), (']{"a":2}', STRAY), ('{"a":3}', None)]),
    (b'[{"a":1}] x', [('{"a":1}', None), ('] x', f"{STRAY}; the file ends inside this element (no closing ']')")]),
    (b'[{"a":1},{"a":2}', [('{"a":1}', None), ('{"a":2}', None)]),  # cut right after an element: nothing lost
    (b'[{"a":1},', [('{"a":1}', None)]),
    (b'[{"a":1},{"a":"tru', [('{"a":1}', None), ('{"a":"tru', "Unterminated string starting at; the file ends "
                                                              "inside this element (no closing ']')")]),
    (b'[{"a":"\xff"},{"a":2}]', [('{"a":"\ufffd"}', 'invalid UTF-8 at byte 6: {"a":"\\xff"}'), ('{"a":2}', None)]),
    (b'[{\r\n"a": "\xff"\n}]', [('{\r\n"a": "\ufffd"\n}', 'invalid UTF-8 at byte 9: {\\r\\n"a": "\\xff"\\n}')]),
])
def test_array_shapes(data, expected):
    assert elements(data) == expected
    assert set(uncovered(data, list(iter_array_elements(data)))) <= set(b"[], \r\n")


def test_lines_and_file_byte_offsets():
    data = b'\xef\xbb\xbf[\r\n{"t": "\xe4\xb8\x80"},\r\n{"t": ,\r\n"x"}, {"t": 3}]'
    got = [(e.line, e.offset, e.problem and e.problem.detail) for e in iter_array_elements(data)]
    assert got == [(2, 6, None), (3, 21, "Expecting value"), (4, 36, None)]


@pytest.mark.parametrize("data, line, message", [
    (b"", 1, "expected a JSON array ('[')"),
    (b'\n\n{"title": "a"}\n', 3, "expected a JSON array ('[')"),
    (b"\xef\xbb\xbf  42", 1, "expected a JSON array ('[')"),
])
def test_a_file_that_is_not_an_array_is_one_error_with_its_line(data, line, message):
    with pytest.raises(NotAnArray) as info:
        list(iter_array_elements(data))
    assert (info.value.line, str(info.value)) == (line, message)


@pytest.mark.parametrize("position", ["delete", "insert"])
def test_any_one_byte_slip_in_an_element_costs_that_element_only(position):
    """Every single-byte deletion, and every insertion of a structural character, inside element 1 of 4.

    Not tried: a '[' right before the element, which nests the rest of the array in a new, valid array.
    """
    texts = [json.dumps(p, ensure_ascii=True) for p in PICKS]  # ASCII: every deletion leaves valid UTF-8
    start = len("[") + len(texts[0]) + len(",")
    for at in range(start, start + len(texts[1])):
        for char in ([""] if position == "delete" else ['"', "{", "}", "[", "]", ",", ":", "\\"]):
            if (at, char) == (start, "["):
                continue
            line = ",".join(texts)
            data = f"[{line[:at - 1]}{char}{line[at - 1 + (position == 'delete'):]}]".encode()
            found = list(iter_array_elements(data))
            others = [e.raw.decode() for e in found if e.problem is None and e.raw.decode() in texts]
            assert {texts[0], texts[2], texts[3]} <= set(others), (at, char, elements(data))
            assert set(uncovered(data, found)) <= set(b"[], "), (at, char, elements(data))


def run_dump(tmp_path: Path, data: bytes) -> tuple[dict, list[dict], list[dict]]:
    path = tmp_path / "dump.json"
    path.write_bytes(data)
    metrics = scrape(parse_source("rzb", {"kind": "ruozhiba_dump", "path": str(path)}), tmp_path / "out",
                     tmp_path / "archive", tmp_path / "m.json")
    return (metrics, pl.read_parquet(tmp_path / "out" / "records.parquet").to_dicts(),
            pl.read_parquet(tmp_path / "out" / "rejected.parquet").to_dicts())


@pytest.mark.parametrize("case", ["bad value", "too deep for the decoder", "too deep (65 levels)"])
def test_one_line_dump_with_a_broken_element_in_the_middle_counts_every_element(tmp_path, case):
    texts = pick_texts(1, BROKEN[case])
    data = layout(texts, "one line")
    metrics, kept, rejected = run_dump(tmp_path, data)
    assert metrics["rows_in"] == 4 and metrics["rows_kept"] == 3
    assert sorted(r["id"] for r in kept) == sorted(make_id("rzb", f"tieba:{7000000100 + i}") for i in (0, 2, 3))
    [row] = rejected
    problem = "Expecting value" if case == "bad value" else "nested deeper than 64 levels"
    offset = data.index(texts[1].encode())
    assert row["reason"] == "scrape_invalid_json"
    assert row["detail"] == f"{(tmp_path / 'dump.json').as_posix()}:1: element 1 (file byte {offset}): {problem}"


def test_cli_reports_counts_and_a_non_array_file_in_one_line(tmp_path):
    dump = tmp_path / "dump.json"
    dump.write_bytes(layout(pick_texts(2, BROKEN["unterminated string"]), "one line"))
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"sources": {"rzb": {"kind": "ruozhiba_dump", "path": str(dump)}}}))
    args = ["run", "rzb", "--params", str(params), "--out", str(tmp_path / "o"), "--archive", str(tmp_path / "a"),
            "--metrics", str(tmp_path / "m.json")]
    result = CliRunner().invoke(cli, args)
    assert (result.exit_code, result.output) == (0, "scrape[rzb]: 4 in, 3 kept, 1 dropped (scrape_invalid_json 1)\n")
    dump.write_text('{"title": "not an array"}', encoding="utf-8")
    result = CliRunner().invoke(cli, args)
    assert (result.exit_code, result.output) == (1, f"Error: {dump}:1: expected a JSON array ('[')\n")
    assert not re.search("Traceback", result.output)
