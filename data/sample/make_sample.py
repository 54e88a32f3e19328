#!/usr/bin/env python3
"""Generate the shipped sample input data under data/sample/.

Run:  python data/sample/make_sample.py      (Python 3.11+, stdlib only)

The output is deterministic: every random choice comes from
random.Random(20261121), consumed in a fixed order, and files are written as
bytes with "\\n" line endings, so two runs give byte-identical files.  The
generated files are committed; this script documents how they were made and
checks them (see verify() at the end) every time it runs.

All texts were written for this project.  The hand-written content lives in
texts_social.py (zhihu, xhs, douban), texts_knowledge.py (segmentfault, wiki,
exam, chinese_traditional, human_value) and texts_ruozhiba.py (Ruozhiba-style
titles, annual best, Tieba threads, Q&A pages).  Nothing is copied from
COIG-CQIA; /work/shared/data/coig-cqia-sample/ was only used to learn the
field layout.

What it writes
--------------
cqia/<subset>.jsonl   COIG-CQIA layout, one JSON object per line, keys in the
                      order instruction, input, output, task_type{major,minor},
                      domain, metadata, answer_from, human_verified, copyright;
                      json.dumps(obj, ensure_ascii=False).
    zhihu 40, douban 35 (+1 blank line), xhs 35 lines, segmentfault 35,
    wiki 35, exam 30 (16 hand-written + 14 templated maths/physics),
    chinese_traditional 30, human_value 25  -> 265 lines with content.
ruozhiba/title-good.json   40 moderator picks (JSON array, indent=2)
ruozhiba/best-2021.json    30 annual-best items (JSON array, indent=2)
http/tieba/p/<id>.html     6 Tieba thread pages; http/tieba/f_good.html list
http/qa/questions/<n>.html 5 Q&A pages; http/qa/index.html
http/robots.txt            allows /p/ and /questions/, disallows /private/
README.md                  file table and every planted defect with file:line

Planted defects (file:line; checked against EXPECTED_LINES below)
-----------------------------------------------------------------
Lines that a JSONL reader must reject -- all three in cqia/xhs.jsonl:
    xhs.jsonl:21   wrong type: "human_verified": "yes" (valid JSON, bad schema)
    xhs.jsonl:26   invalid UTF-8: bytes FF FE C3 inside the output string
    xhs.jsonl:31   malformed JSON: the record is cut off mid-string
Blank line (allowed, skipped by the parser): douban.jsonl:18
Empty output "": zhihu.jsonl:15, douban.jsonl:25, exam.jsonl:25
Empty instruction "" (task in `input`): human_value.jsonl:4
Very short answers: segmentfault.jsonl:9 ("是"), human_value.jsonl:5 ("好的")
English-only answer: zhihu.jsonl:11.  Mostly-emoji answer: xhs.jsonl:3.
Heavy repetition: zhihu.jsonl:10 (120 x 哈), xhs.jsonl:4 (one line x 20).
Long answers (~2.8k chars each): zhihu.jsonl:12, wiki.jsonl:1.
Zero-width U+200B: zhihu.jsonl:16.  U+FEFF at start of output: wiki.jsonl:5.
Control characters: segmentfault.jsonl:6 (ESC, ANSI colours in the
    instruction), wiki.jsonl:6 (U+000C form feed, U+0008 backspace).
HTML remnants: segmentfault.jsonl:2,5,8,14,19,25,30 (<p>, <br/>, &nbsp;,
    &lt;, &amp;, <code>), zhihu.jsonl:18 (<br>), wiki.jsonl:7 (<div>,
    <a href=...>, &amp;); best-2021.json item with <br>.
Escaped markdown ("1\\." / "\\*"): zhihu.jsonl:2,4,9,27, wiki.jsonl:8,
    segmentfault.jsonl:11,27,33,34.
LaTeX: wiki.jsonl:1,3,4,24,28,29,34,35 ($a^2+b^2=c^2$, \\frac{U}{R}, ...);
    exam templated items ($x^2+y^2=z^2$, \\frac{a}{b}, \\sqrt{...}).
Traditional script: all of chinese_traditional.jsonl; also douban.jsonl:29,
    xhs.jsonl:34, title-good.json titles t38/t39 (variants of t16/t10).

Personal data (should be found by a PII filter):
    mobiles   zhihu:2 (138-1234-5678), zhihu:34 (+86 171 2345 6789),
              xhs:5 (139 0000 1234), douban:35 (+8615900001111),
              human_value:6 (13812345678, in the instruction),
              title-good t40 and its Tieba page (139 1234 0000)
    landlines zhihu:2 (010-12345678), zhihu:34 (0755-8765432)
    emails    xhs:5 (drawwithmei@example.com),
              douban:17 (suwanqing.studio@example.com)
    ID numbers (valid GB 11643 checksum, computed here): wiki:2 (ID1),
              human_value:2 (ID2, check char X, in the instruction), xhs:6 (ID3)
    bank card human_value:3 (16 digits, passes Luhn)
    secrets   segmentfault:4 (URL with ?token=abc123secret),
              segmentfault:5 (URL with api_key=ak_7f3e9c2b1d),
              segmentfault:3 (email dev.zhang@example.com inside a ``` code block)
Near misses (must NOT be scrubbed):
    xhs:7            18-digit order number shaped like an ID, wrong check char
    zhihu:17         16-digit card number that fails Luhn

Near-duplicate pairs (file:line <-> file:line):
    douban:1 <-> douban:7 <-> douban:22   same synopsis, three prompts (3 pairs)
    douban:4 <-> douban:15                same synopsis, two prompts
    zhihu:8  <-> xhs:1      a few characters changed, hashtags appended
    zhihu:9  <-> xhs:2      boilerplate "以上内容仅供参考…" appended
    zhihu:16 <-> xhs:10     identical except zero-width characters
    zhihu:27 <-> wiki:11    boilerplate "以上内容仅供参考，如有不适请及时就医。"
    zhihu:36 <-> segmentfault:8   same answer wrapped in <p> tags
    wiki:9   <-> chinese_traditional:29   traditional-script copy
    exam:9   <-> human_value:7    "（ ）" -> "( )", "因此答案为：B" -> "故本题选B。"
    xhs:8    <-> xhs:9      same post under two titles
Exact duplicates (identical instruction, input and output, different files):
    zhihu:13 == segmentfault:7, zhihu:14 == human_value:1, douban:10 == wiki:10
"""

from __future__ import annotations

import html
import json
import random
import sys
import urllib.parse
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # importing the text modules must not litter data/sample

import texts_knowledge as K  # noqa: E402
import texts_ruozhiba as R  # noqa: E402
import texts_social as S  # noqa: E402

SEED = 20261121
NO_META = "暂无元数据信息"
NO_CR = "暂无版权及作者信息"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
SUBSETS = ["zhihu", "douban", "xhs", "segmentfault", "wiki", "exam",
           "chinese_traditional", "human_value"]

# Locations of the planted defects; main() asserts that the layout matches,
# so the docstring and README cannot drift from the files.
EXPECTED_LINES = {
    "x20": ("xhs", 21),      # wrong type: human_verified "yes"
    "x25": ("xhs", 26),      # invalid UTF-8 bytes
    "x30": ("xhs", 31),      # malformed JSON (truncated)
    "BLANK": ("douban", 18),  # blank line
    "z15": ("zhihu", 15), "d24": ("douban", 25), "e13": ("exam", 25),  # empty outputs
    "hv04": ("human_value", 4),  # empty instruction
}

# ---------------------------------------------------------------------------
# checksums
# ---------------------------------------------------------------------------

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK_CHARS = "10X98765432"


def id_mod(first17: str) -> int:
    return sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11


def id_check_char(first17: str) -> str:
    return ID_CHECK_CHARS[id_mod(first17)]


def id_valid(s: str) -> bool:
    return (len(s) == 18 and s[:17].isdigit()
            and s[17].upper() == id_check_char(s[:17]))


def luhn_ok(num: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(num)):
        d = int(c)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_digit(partial: str) -> str:
    for d in "0123456789":
        if luhn_ok(partial + d):
            return d
    raise AssertionError


def build_numbers() -> dict[str, str]:
    """Numbers substituted for the ⟦...⟧ placeholders in the texts."""
    n = {}
    id1_17 = "110105" + "19880715" + "321"
    n["ID1"] = id1_17 + id_check_char(id1_17)
    n["ID1_MOD"] = str(id_mod(id1_17))
    n["ID1_CHECK"] = id_check_char(id1_17)
    # ID2: first sequence number whose check character is X
    for seq in range(101, 1000):
        id2_17 = "440305" + "19920308" + f"{seq:03d}"
        if id_check_char(id2_17) == "X":
            n["ID2"] = id2_17 + "X"
            break
    id3_17 = "310104" + "20010927" + "146"
    n["ID3"] = id3_17 + id_check_char(id3_17)
    # ID-shaped order number with a deliberately wrong last digit
    order_17 = "320102" + "19951123" + "035"
    good = id_check_char(order_17)
    wrong = next(d for d in "7350" if d != good)
    n["ORDER"] = order_17 + wrong
    card_15 = "622202123456789"
    n["CARD_GOOD"] = card_15 + luhn_digit(card_15)
    bad_15 = "621700123456789"
    n["CARD_BAD"] = bad_15 + str((int(luhn_digit(bad_15)) + 5) % 10)
    assert id_valid(n["ID1"]) and id_valid(n["ID2"]) and id_valid(n["ID3"])
    assert n["ID2"].endswith("X") and not id_valid(n["ORDER"])
    assert luhn_ok(n["CARD_GOOD"]) and not luhn_ok(n["CARD_BAD"])
    return n


NUMBERS = build_numbers()


def fill(text: str) -> str:
    for k, v in NUMBERS.items():
        text = text.replace(f"⟦{k}⟧", v)
    assert "⟦" not in text, text[:80]
    return text


# ---------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------

def record(instruction, output, *, inp="", major, minor, domain,
           metadata=NO_META, answer_from="human", human_verified,
           copyright=NO_CR):
    return {
        "instruction": fill(instruction),
        "input": fill(inp),
        "output": fill(output),
        "task_type": {"major": [major], "minor": list(minor)},
        "domain": list(domain),
        "metadata": metadata,
        "answer_from": answer_from,
        "human_verified": human_verified,
        "copyright": copyright,
    }


TEXT: dict[str, dict] = {}   # key -> finished record (for dup / derive)


def derived_output(e: dict) -> str:
    out = TEXT[e["derive"]]["output"]
    if e.get("strip_zw"):
        out = "".join(c for c in out if c not in ZERO_WIDTH)
    for old, new in e.get("edits", []):
        assert out.count(old) == 1, (e["key"], old)
        out = out.replace(old, new)
    if e.get("wrap_p"):
        out = "".join(f"<p>{line}</p>" for line in out.split("\n"))
    return e.get("prefix", "") + out + e.get("suffix", "")


def text_of(e: dict, instruction: str | None = None) -> tuple[str, str, str]:
    """(instruction, input, output) for a hand-written, derived or dup entry."""
    if "dup" in e:
        src = TEXT[e["dup"]]
        return src["instruction"], src["input"], src["output"]
    q = e.get("q") if instruction is None else instruction
    if "derive" in e:
        return q, e.get("inp", ""), derived_output(e)
    return q, e.get("inp", ""), e["a"]


def add(key: str, rec: dict, out: list) -> None:
    TEXT[key] = rec
    out.append((key, rec))


def zhihu(rng):
    rows = []
    for e in S.ZHIHU:
        qid = rng.randint(200_000_000, 650_000_000)
        aid = rng.randint(1_000_000_000, 3_200_000_000)
        tags = e.get("tags", []) if rng.random() < 0.65 else []
        tag = "[" + ", ".join(f"'{t}'" for t in tags) + "]"
        q, i, a = text_of(e)
        add(e["key"], record(q, a, inp=i, major="问答", minor=["知乎问答"], domain=["通用"],
                             metadata=f"qid:{qid}, aid:{aid}, tag:{tag}",
                             human_verified=True), rows)
    return rows


DOUBAN_PROMPTS = [
    "我是一个为豆瓣{kind}页面写内容简介的工作人员，你能帮我写一段《{t}》的内容简介吗？",
    "请为{kind}《{t}》写一段剧情简介，风格参考豆瓣。",
    "《{t}》这部{kind}讲了一个什么样的故事？",
    "给我介绍一下{kind}《{t}》的主要内容。",
]
BOOK_PROMPTS = [
    "我是一个为豆瓣图书页面写内容简介的工作人员，你能帮我写一段《{t}》的内容简介吗？",
    "请为图书《{t}》写一段内容简介。",
    "《{t}》这本书主要写了什么？",
]
AUTHOR_PROMPTS = ["Use Chinese to introduce the author {t}.", "介绍一下作者{t}。"]
DOUBAN_DOMAIN = {"电影": "电影", "动画电影": "电影", "电视剧": "电视剧",
                 "动画电视剧": "电视剧", "图书": "图书"}


def douban(rng):
    rows = []
    for e in S.DOUBAN:
        if "author" in e:
            prompts, name, minor, dom = AUTHOR_PROMPTS, e["author"], ["作者介绍"], "图书"
        else:
            kind = e["kind"]
            prompts = BOOK_PROMPTS if kind == "图书" else DOUBAN_PROMPTS
            name, minor, dom = e["title"], ["故事概要", kind], DOUBAN_DOMAIN[kind]
        pick = rng.randrange(len(prompts))
        pick = e.get("prompt", pick)
        q = prompts[pick].format(t=name, kind=e.get("kind", ""))
        _, i, a = text_of(e, q)
        add(e["key"], record(q, a, inp=i, major="豆瓣", minor=minor, domain=[dom],
                             human_verified=False), rows)
    return rows


XHS_PROMPTS = [
    "请以小红书博主的口吻，以{t}为标题写一篇小红书分享",
    "写一篇小红书风格的帖子，标题是{t}",
    "你是一名小红书博主，写一篇以{t}为题目的小红书",
]


def xhs(rng):
    rows = []
    for e in S.XHS:
        q = XHS_PROMPTS[rng.randrange(len(XHS_PROMPTS))].format(t=e["title"])
        _, i, a = text_of(e, q)
        add(e["key"], record(q, a, inp=i, major="文本生成", minor=["小红书风格文本"],
                             domain=["社交媒体"], human_verified=False), rows)
    return rows


def segmentfault(rng):
    rows = []
    for e in K.SEGMENTFAULT:
        q, i, a = text_of(e)
        add(e["key"], record(q, a, inp=i, major="问答", minor=["代码问答"],
                             domain=e["domain"], human_verified=False), rows)
    return rows


def wiki(rng):
    rows = []
    for e in K.WIKI:
        q, i, a = text_of(e)
        hv = rng.random() < 0.65
        add(e["key"], record(q, a, inp=i, major=e.get("major", "问答"),
                             minor=e.get("minor", ["百科问答"]), domain=e["domain"],
                             human_verified=hv, copyright=e.get("cr", NO_CR)), rows)
    return rows


# --- exam: templated maths / physics questions -----------------------------

def tex_frac(f: Fraction) -> str:
    if f.denominator == 1:
        return str(f.numerator)
    return rf"\frac{{{f.numerator}}}{{{f.denominator}}}"


def choice_block(rng, correct: str, distractors: list[str]) -> tuple[str, str]:
    opts = [correct] + distractors
    assert len(set(opts)) == 4, opts
    rng.shuffle(opts)
    letter = "ABCD"[opts.index(correct)]
    return "\n".join(f"{l}. {o}" for l, o in zip("ABCD", opts)), letter


def poly(r1: int, r2: int) -> str:
    s, p = -(r1 + r2), r1 * r2

    def term(c, x):
        if c == 0:
            return ""
        sign = "+" if c > 0 else "-"
        mag = abs(c)
        return f"{sign}{'' if (mag == 1 and x) else mag}{x}"
    return "x^2" + term(s, "x") + term(p, "") + "=0"


def paren(v: int) -> str:
    return f"({v})" if v < 0 else str(v)


def factor(r: int) -> str:
    return f"(x-{r})" if r > 0 else f"(x+{-r})"


def exam_templated(rng):
    items = []
    # 1) Pythagorean triples (3)
    triples = [(3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29),
               (9, 40, 41), (12, 35, 37)]
    for n, (a, b, c) in enumerate(rng.sample(triples, 3)):
        sq = a * a + b * b
        stem = [
            rf"已知正整数 $x,y,z$ 满足 $x^2+y^2=z^2$，若 $x={a}$，$y={b}$，则 $z$ 的值为（ ）",
            f"在直角三角形中，两条直角边的长分别为 {a} 和 {b}，则斜边的长为（ ）",
            f"一块直角三角形木板的两条直角边长为 {a} cm 和 {b} cm，它最长的一边是（ ）",
        ][n]
        unit = " cm" if n == 2 else ""
        opts, letter = choice_block(rng, f"{c}{unit}", [f"{a + b}{unit}", f"{c + 1}{unit}", f"{c - 2}{unit}"])
        out = [
            rf"由 $x^2+y^2=z^2$ 可得 $z=\sqrt{{{a}^2+{b}^2}}=\sqrt{{{sq}}}={c}$。因此答案为：{letter}",
            rf"设斜边长为 $c$，根据勾股定理，$c^2={a}^2+{b}^2={a * a}+{b * b}={sq}$，又因为 $c>0$，所以 $c={c}$。因此答案为：{letter}",
            f"直角三角形中最长的边是斜边。两直角边的平方和为 {a * a}+{b * b}={sq}，而 {c} 的平方恰好是 {sq}，"
            f"所以斜边长 {c} cm。选项 {a + b} cm 是把两边直接相加，属于常见错误。因此答案为：{letter}",
        ][n]
        items.append(dict(q=stem + "\n" + opts, a=out, domain=["数学"]))
    # 2) fraction addition (4)
    used = set()
    while len(used) < 4:
        b, d = rng.sample(range(2, 10), 2)
        a, c = rng.randint(1, b - 1), rng.randint(1, d - 1)
        if (a, b, c, d) in used:
            continue
        res = Fraction(a, b) + Fraction(c, d)
        wrong = [Fraction(a + c, b + d), Fraction(a + c, b * d), res + Fraction(1, b * d)]
        if len({res, *wrong}) < 4:
            continue
        used.add((a, b, c, d))
        stem = rf"计算 $\frac{{{a}}}{{{b}}}+\frac{{{c}}}{{{d}}}$ 的结果是（ ）"
        opts, letter = choice_block(rng, f"${tex_frac(res)}$", [f"${tex_frac(w)}$" for w in wrong])
        out = (rf"通分得 $\frac{{{a}}}{{{b}}}+\frac{{{c}}}{{{d}}}=\frac{{{a*d}}}{{{b*d}}}+\frac{{{c*b}}}{{{b*d}}}"
               rf"=\frac{{{a*d+c*b}}}{{{b*d}}}$，"
               + (f"约分后为 ${tex_frac(res)}$。" if res.denominator != b * d else "已是最简分数。")
               + f"因此答案为：{letter}")
        items.append(dict(q=stem + "\n" + opts, a=out, domain=["数学"]))
    # 3) quadratic equations with integer roots (3)
    seen = set()
    while len(seen) < 3:
        r1, r2 = sorted(rng.sample([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6], 2))
        if (r1, r2) in seen or r1 + r2 == 0:
            continue
        seen.add((r1, r2))
        pair = lambda u, v: rf"$x_1={u},\ x_2={v}$"  # noqa: E731
        wrong = [pair(-r2, -r1), pair(r1, -r2), pair(r1 - 1, r2 + 1)]
        opts, letter = choice_block(rng, pair(r1, r2), wrong)
        k = len(seen) - 1
        stem = [f"方程 ${poly(r1, r2)}$ 的解是（ ）", f"一元二次方程 ${poly(r1, r2)}$ 的两个根为（ ）",
                f"解方程 ${poly(r1, r2)}$，正确的结果是（ ）"][k]
        out = [f"将方程左边因式分解，得 ${factor(r1)}{factor(r2)}=0$，所以 $x_1={r1}$，$x_2={r2}$。因此答案为：{letter}",
               rf"由求根公式，判别式 $\Delta={(r1 + r2) ** 2}-4\times{paren(r1 * r2)}={(r1 - r2) ** 2}$，"
               rf"$x=\frac{{{r1 + r2}\pm{abs(r1 - r2)}}}{{2}}$，即 $x_1={r1}$，$x_2={r2}$。因此答案为：{letter}",
               f"根据韦达定理，两根之和为 {r1 + r2}，两根之积为 {r1 * r2}，满足条件的两个整数是 {r1} 和 {r2}，"
               f"代入原方程检验成立。因此答案为：{letter}"][k]
        items.append(dict(q=stem + "\n" + opts, a=out, domain=["数学"]))
    # 4) free fall (2): speed and height
    t1, t2 = rng.sample(range(2, 7), 2)
    v = 10 * t1
    opts, letter = choice_block(rng, f"{v} m/s", [f"{v // 2} m/s", f"{2 * v} m/s", f"{v + 10} m/s"])
    items.append(dict(
        q=rf"一个物体从静止开始做自由落体运动，取 $g=10\,\mathrm{{m/s^2}}$，则它下落 {t1} s 时的速度大小为（ ）" + "\n" + opts,
        a=rf"自由落体运动是初速度为零的匀加速直线运动，由 $v=gt$ 得 $v=10\times{t1}={v}\,\mathrm{{m/s}}$。因此答案为：{letter}",
        domain=["物理"]))
    h = 5 * t2 * t2
    opts, letter = choice_block(rng, f"{h} m", [f"{10 * t2 * t2} m", f"{10 * t2} m", f"{5 * t2} m"])
    items.append(dict(
        q=rf"一个小球从高处由静止释放，不计空气阻力，取 $g=10\,\mathrm{{m/s^2}}$，{t2} s 内下落的高度为（ ）" + "\n" + opts,
        a=rf"由 $h=\frac{{1}}{{2}}gt^2$ 得 $h=\frac{{1}}{{2}}\times10\times{t2}^2={h}\,\mathrm{{m}}$。因此答案为：{letter}",
        domain=["物理"]))
    # 5) arithmetic series (2), two different phrasings
    for k in range(2):
        a1, d, n = rng.randint(1, 9), rng.randint(2, 5), rng.randint(6, 12)
        an = a1 + (n - 1) * d
        s = n * a1 + n * (n - 1) // 2 * d
        wrong = [n * a1 + n * (n + 1) // 2 * d, s + d, n * a1 + n * n * d]
        opts, letter = choice_block(rng, str(s), [str(w) for w in wrong])
        if k == 0:
            q = rf"已知等差数列 $\{{a_n\}}$ 的首项 $a_1={a1}$，公差 $d={d}$，则前 {n} 项和 $S_{{{n}}}$ 等于（ ）"
            a = (rf"等差数列前 $n$ 项和公式为 $S_n=na_1+\frac{{n(n-1)}}{{2}}d$，"
                 rf"代入得 $S_{{{n}}}={n}\times{a1}+\frac{{{n}\times{n - 1}}}{{2}}\times{d}={s}$。因此答案为：{letter}")
        else:
            q = f"某人第一天存钱 {a1} 元，以后每天比前一天多存 {d} 元，连续存 {n} 天，一共存了多少元？（ ）"
            a = (rf"每天存的钱数构成首项为 {a1}、公差为 {d} 的等差数列。第 {n} 天存 $a_{{{n}}}={a1}+({n}-1)\times{d}={an}$ 元，"
                 rf"总数 $S=\frac{{{n}\times({a1}+{an})}}{{2}}={s}$ 元。因此答案为：{letter}")
        items.append(dict(q=q + "\n" + opts, a=a, domain=["数学"]))
    return items


def exam(rng):
    rows = []
    hand = list(K.EXAM_HAND)
    templ = exam_templated(rng)
    order = []
    for i in range(max(len(hand), len(templ))):
        if i < len(hand):
            order.append(hand[i])
        if i < len(templ):
            order.append(dict(templ[i], key=f"m{i + 1:02d}", minor=["中学考试"]))
    for e in order:
        q, i, a = text_of(e)
        add(e["key"], record(q, a, inp=i, major="试题", minor=e["minor"], domain=e["domain"],
                             metadata=e.get("meta", NO_META), human_verified=False), rows)
    return rows


def chinese_traditional(rng):
    rows = []
    for e in K.TRADITIONAL:
        q, i, a = text_of(e)
        add(e["key"], record(q, a, inp=i, major=e["major"], minor=e["minor"],
                             domain=e["domain"], human_verified=True), rows)
    return rows


def human_value(rng):
    rows = []
    for e in K.HUMAN_VALUE:
        af = "human" if rng.random() < 0.3 else "llm"
        af = e.get("af", af)
        q, i, a = text_of(e)
        add(e["key"], record(q, a, inp=i, major=e.get("major", "文本生成"),
                             minor=e.get("minor", ["问答"]), domain=e["domain"],
                             answer_from=af, human_verified=True), rows)
    return rows


BUILDERS = {"zhihu": zhihu, "douban": douban, "xhs": xhs, "segmentfault": segmentfault,
            "wiki": wiki, "exam": exam, "chinese_traditional": chinese_traditional,
            "human_value": human_value}


def dumps(rec: dict) -> str:
    return json.dumps(rec, ensure_ascii=False)


def build_cqia(rng):
    """Return {subset: [(key, line_bytes_or_None_for_blank)]} and the records."""
    files = {}
    records = {}
    for name in SUBSETS:
        rows = BUILDERS[name](rng)
        records[name] = rows
        lines = []
        for key, rec in rows:
            if key == "x30":       # malformed: truncated in the middle of the output
                line = dumps(rec)
                cut = line.index('"output": "') + 60
                lines.append((key, line[:cut].encode("utf-8")))
            elif key == "x20":     # wrong type
                bad = dict(rec, human_verified="yes")
                lines.append((key, dumps(bad).encode("utf-8")))
            elif key == "x25":     # invalid UTF-8 inside the output string
                b = dumps(rec).encode("utf-8")
                anchor = "坚持了一百天".encode("utf-8")
                pos = b.index(anchor) + len(anchor)
                lines.append((key, b[:pos] + b"\xff\xfe\xc3" + b[pos:]))
            else:
                lines.append((key, dumps(rec).encode("utf-8")))
            if name == "douban" and len(lines) == 17:
                lines.append(("BLANK", b""))
        files[name] = lines
    return files, records


# ---------------------------------------------------------------------------
# ruozhiba JSON
# ---------------------------------------------------------------------------

def build_title_good(rng):
    items, ids = [], {}
    used = set()
    for e in R.TITLES:
        while True:
            tid = rng.randint(6_000_000_000, 9_199_999_999)
            if tid not in used:
                used.add(tid)
                break
        ids[e["key"]] = tid
        ab = e["abs"]
        ab = e["title"] if ab == "same" else ab
        items.append({
            "title": e["title"],
            "abs": ab,
            "href": f"/p/{tid}?fr=good",
            "lz": rng.choice(R.TIEBA_USERS),
            "n_reply": str(rng.randint(3, 2600)),
        })
    return items, ids


def build_best(rng):
    ranks = rng.sample([r for r in range(1, 201) if r != 12], len(R.BEST) - 1)
    pairs, it = [], iter(ranks)
    for text in R.BEST:
        pairs.append((12 if text == "" else next(it), text))
    pairs.sort()
    floor = rng.randint(2, 6)
    t = datetime(2021, 12, 28, 20, 15)
    items = []
    for rank, text in pairs:
        items.append({
            "author": rng.choice(R.TIEBA_USERS),
            "content": f"{rank}、{text}",
            "l_num": floor,
            "ctime": t.strftime("%Y-%m-%d %H:%M"),
        })
        floor += rng.randint(1, 15)
        t += timedelta(minutes=rng.randint(3, 400))
    return items


# ---------------------------------------------------------------------------
# HTML pages
# ---------------------------------------------------------------------------

SMILEY = ('<img class="BDE_Smiley" width="30" height="30" changedsize="false" '
          'src="https://tb2.bdstatic.com/tb/editor/images/client/image_emoticon{n}.png" >')
FORUM_ID = 309740


def esc(s: str) -> str:
    return html.escape(s, quote=True)


def data_field(obj) -> str:
    s = json.dumps(obj, separators=(",", ":"))
    assert "'" not in s
    return s


def tieba_thread(rng, tid: int, title: str, body: str, replies: list[str], lz: str,
                 n_reply: str) -> str:
    users = [lz] + [u for u in rng.sample(R.TIEBA_USERS, len(replies) + 1) if u != lz][:len(replies)]
    pid = rng.randint(130_000_000_000, 149_999_999_999)
    t = datetime(2021, rng.randint(1, 11), rng.randint(1, 28), rng.randint(8, 23), rng.randint(0, 59))
    posts = []
    for no, (user, text) in enumerate(zip(users, [body] + replies), start=1):
        uid = rng.randint(100_000_000, 7_999_999_999)
        text = text.replace("{smiley}", SMILEY.format(n=rng.randint(1, 40)))
        df = data_field({"author": {"user_id": uid, "user_name": user},
                         "content": {"post_id": pid, "is_anonym": False, "forum_id": FORUM_ID,
                                     "thread_id": tid, "post_no": no,
                                     "comment_num": rng.randint(0, 30)}})
        un = urllib.parse.quote(user)
        posts.append(f"""<div class="l_post l_post_bright j_l_post clearfix" data-field='{df}'>
  <div class="d_author">
    <ul class="p_author">
      <li class="icon"><div class="icon_relative j_user_card"><a class="p_author_face" href="/home/main?un={un}&amp;ie=utf-8" target="_blank"><img username="{esc(user)}" class="" src="https://gss0.bdstatic.com/6LZ1dD3d1sgCo2Kml5_Y_D3/sys/portrait/item/tb.1.placeholder"></a></div></li>
      <li class="d_name"><a data-field='{data_field({"id": uid})}' alog-group="p_author" class="p_author_name j_user_card" href="/home/main?un={un}&amp;ie=utf-8" target="_blank">{esc(user)}</a></li>
    </ul>
  </div>
  <div class="d_post_content_main">
    <div class="p_content">
      <cc><div id="post_content_{pid}" class="d_post_content j_d_post_content">            {text}</div><br></cc>
    </div>
    <div class="core_reply_tail"><span class="tail-info">{no}楼</span><span class="tail-info">{t:%Y-%m-%d %H:%M}</span></div>
  </div>
</div>""")
        pid += rng.randint(1, 90_000)
        t += timedelta(minutes=rng.randint(1, 600))
    return f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{esc(title)}_弱智吧_百度贴吧</title>
<meta name="keywords" content="弱智吧,{esc(title)}">
</head>
<body>
<div id="j_core_title_wrap" class="core_title_wrap_bright clearfix j_core_title_wrap">
  <div class="core_title core_title_theme_bright">
    <h3 class="core_title_txt pull-left text-overflow" title="{esc(title)}" style="width: 396px">{esc(title)}</h3>
  </div>
</div>
<div class="p_thread thread_theme_5" id="thread_theme_5">
  <div class="l_thread_info"><ul class="l_posts_num"><li class="l_reply_num" style="margin-left:8px"><span class="red" style="margin-right:3px">{n_reply}</span>回复贴，共<span class="red">1</span>页</li></ul></div>
</div>
<div class="p_postlist" id="j_p_postlist">
{chr(10).join(posts)}
</div>
<div class="l_pager pager_theme_4 pb_list_pager"><span class="tP">1</span></div>
</body>
</html>
"""


def tieba_list(threads: list[dict]) -> str:
    lis = []
    for th in threads:
        df = data_field({"id": th["tid"], "author_name": th["lz"], "first_post_id": th["first_pid"],
                         "reply_num": th["n_reply"], "is_bakan": None, "vid": "", "is_good": True,
                         "is_top": None})
        un = urllib.parse.quote(th["lz"])
        abs_ = esc(th["abs"]) if th["abs"] else ""
        lis.append(f"""<li class=" j_thread_list clearfix" data-field='{df}'>
  <div class="t_con cleafix">
    <div class="col2_left j_threadlist_li_left"><span class="threadlist_rep_num center_text" title="回复">{th["n_reply"]}</span></div>
    <div class="col2_right j_threadlist_li_right ">
      <div class="threadlist_lz clearfix">
        <div class="threadlist_title pull_left"><i class="icon-good" title="精品"></i>
          <a rel="noreferrer" href="/p/{th["tid"]}" title="{esc(th["title"])}" target="_blank" class="j_th_tit ">{esc(th["title"])}</a>
        </div>
        <div class="threadlist_author pull_right"><span class="tb_icon_author " title="主题作者: {esc(th["lz"])}"><a class="frs-author-name j_user_card " href="/home/main?un={un}&amp;ie=utf-8" target="_blank">{esc(th["lz"])}</a></span></div>
      </div>
      <div class="threadlist_detail clearfix"><div class="threadlist_abs threadlist_abs_onlyline ">{abs_}</div></div>
    </div>
  </div>
</li>""")
    return f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>弱智吧-百度贴吧-精品区</title>
</head>
<body>
<div class="card_title"><a class="card_title_fname" href="/f?kw=%E5%BC%B1%E6%99%BA&amp;ie=utf-8" target="_blank">弱智吧</a></div>
<div class="tbui_aside_float_bar"></div>
<ul id="thread_list" class="threadlist_bright j_threadlist_bright">
{chr(10).join(lis)}
</ul>
<div id="frs_list_pager" class="pagination-default clearfix"><span class="pagination-current pagination-item ">1</span></div>
</body>
</html>
"""


def qa_page(page: dict) -> str:
    answers = "\n".join(
        f'<div class="answer" data-author="{esc(author)}"><div class="answer-content">{content}</div>'
        f'<span class="votes">{votes}</span></div>'
        for author, votes, content in page["answers"])
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{esc(page["title"])} - {R.QA_SITE}</title>
<link rel="canonical" href="/questions/{page["n"]}">
</head>
<body>
<header class="site-header"><a class="logo" href="/">{R.QA_SITE}</a></header>
<main class="question-page">
<h1 class="question-title">{esc(page["title"])}</h1>
<div class="question-body">{page["body"]}</div>
<div class="answers">
{answers}
</div>
</main>
<footer class="site-footer"><a href="/">首页</a> · <a href="/private/drafts">草稿箱</a></footer>
</body>
</html>
"""


def qa_index() -> str:
    lis = "\n".join(
        f'<li><a class="question-link" href="/questions/{p["n"]}">{esc(p["title"])}</a> '
        f'<span class="answer-count">{len(p["answers"])} 个回答</span></li>'
        for p in R.QA_PAGES)
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{R.QA_SITE} - 最新问题</title>
</head>
<body>
<header class="site-header"><a class="logo" href="/">{R.QA_SITE}</a></header>
<main>
<h1>最新问题</h1>
<ul class="question-list">
{lis}
</ul>
</main>
<footer class="site-footer"><a href="/private/drafts">草稿箱</a> · <a href="/private/admin">管理后台</a></footer>
</body>
</html>
"""


ROBOTS = """# robots.txt for the sample sites served from data/sample/http/
User-agent: *
Allow: /p/
Allow: /questions/
Disallow: /private/
"""


# ---------------------------------------------------------------------------
# README
# ---------------------------------------------------------------------------

def where(loc: dict, *keys: str) -> str:
    return ", ".join(f"cqia/{loc[k][0]}.jsonl:{loc[k][1]}" for k in keys)


def build_readme(loc, counts, title_items, title_ids, best_items, thread_files) -> str:
    t_idx = {e["key"]: i for i, e in enumerate(R.TITLES)}
    best_empty = next(i for i, it in enumerate(best_items) if it["content"].endswith("、"))
    best_br = next(i for i, it in enumerate(best_items) if "<br>" in it["content"])
    n = NUMBERS
    L = []
    L.append("# Sample input data\n")
    L.append("All texts in this directory were written for this project (questions, answers, "
             "synopses, user names, pages). Nothing is copied from COIG-CQIA or the sites it was "
             "collected from; the real dataset was only used to learn the field layout. Everything "
             "here is generated by `make_sample.py` (stdlib only, seeded `random.Random(20261121)`, "
             "byte-identical on every run) from the hand-written texts in `texts_social.py`, "
             "`texts_knowledge.py` and `texts_ruozhiba.py`. Regenerate with "
             "`python data/sample/make_sample.py`; do not edit the generated files by hand.\n")
    L.append("## Files\n")
    L.append("| file | format | records | notes |")
    L.append("|---|---|---|---|")
    notes = {
        "zhihu": "metadata `qid:…, aid:…, tag:[…]`; PII; long answer; English-only; zero-width chars",
        "douban": "synopses of invented works + author intros; one blank line; traditional synopsis",
        "xhs": "emoji-heavy posts; **the three unreadable/invalid lines are here**",
        "segmentfault": "fenced code, inline code, HTML remnants, ANSI escapes, URL secrets",
        "wiki": "LaTeX, HTML remnants, U+FEFF, control chars, long article, valid ID example",
        "exam": "16 hand-written (law/politics/history) + 14 templated maths/physics with LaTeX",
        "chinese_traditional": "all traditional script: poems, classical prose, idioms, Taiwan usage",
        "human_value": "value-alignment Q&A; empty instruction; PII in instructions",
    }
    for name in SUBSETS:
        c = counts[name]
        recs = f"{c['lines']} lines: {c['ok']} valid records"
        extra = []
        if c["blank"]:
            extra.append(f"{c['blank']} blank")
        if c["json_error"]:
            extra.append(f"{c['json_error']} malformed")
        if c["utf8_error"]:
            extra.append(f"{c['utf8_error']} invalid UTF-8")
        if c["schema_error"]:
            extra.append(f"{c['schema_error']} wrong type")
        if extra:
            recs += " + " + ", ".join(extra)
        L.append(f"| `cqia/{name}.jsonl` | COIG-CQIA JSONL | {recs} | {notes[name]} |")
    L.append(f"| `ruozhiba/title-good.json` | JSON array `{{title, abs, href, lz, n_reply}}` | "
             f"{len(title_items)} | `abs` null / same as title / extra sentence; 2 traditional "
             f"variants (items {t_idx['t38'] + 1}, {t_idx['t39'] + 1}); phone number in item "
             f"{t_idx['t40'] + 1} |")
    L.append(f"| `ruozhiba/best-2021.json` | JSON array `{{author, content, l_num, ctime}}` | "
             f"{len(best_items)} | `content` = `<rank>、<question>`; empty after rank: item "
             f"{best_empty + 1} (`{best_items[best_empty]['content']}`); `<br>` in item {best_br + 1} |")
    for path, what in thread_files:
        L.append(f"| `{path}` | HTML (Tieba thread) | {what} | |")
    L.append("| `http/tieba/f_good.html` | HTML (Tieba good-posts list) | 6 threads | links `/p/<id>` via `a.j_th_tit` inside `li.j_thread_list` |")
    for p in R.QA_PAGES:
        note = "answer with `<pre><code>`" if p["n"] == 2 else ""
        L.append(f"| `http/qa/questions/{p['n']}.html` | HTML (Q&A page) | "
                 f"{len(p['answers'])} answers | {note} |")
    L.append("| `http/qa/index.html` | HTML (Q&A index) | 5 links | `a.question-link` to `/questions/<n>`; also links to `/private/…` (disallowed) |")
    L.append("| `http/robots.txt` | robots.txt | – | allows `/p/`, `/questions/`; disallows `/private/` |")
    L.append("")
    L.append("Tieba pages map `/p/<id>` to `http/tieba/p/<id>.html`; Q&A pages map "
             "`/questions/<n>` to `http/qa/questions/<n>.html`. As on the real site, Tieba user "
             "names appear in `.p_author_name`, in `img[username]`, in `data-field` JSON "
             "(`\\uXXXX`-escaped) and URL-encoded in profile links; none of them occurs in post text.\n")

    L.append("## Planted defects in the JSONL files\n")
    L.append("Line numbers are 1-based physical lines.\n")
    rows = [
        ("malformed JSON (truncated object)", where(loc, "x30")),
        ("invalid UTF-8 (bytes `FF FE C3` inside the output string)", where(loc, "x25")),
        ("wrong type: `\"human_verified\": \"yes\"` (parses, fails schema)", where(loc, "x20")),
        ("blank line (allowed, skipped by the parser)", where(loc, "BLANK")),
        ("empty output `\"\"`", where(loc, "z15", "d24", "e13")),
        ("empty instruction (task in `input`)", where(loc, "hv04")),
        ("very short answers (`是`, `好的`)", where(loc, "s09", "hv05")),
        ("English-only answer", where(loc, "z11")),
        ("mostly-emoji answer", where(loc, "x03")),
        ("heavy repetition (`哈`×120; one line ×20)", where(loc, "z10", "x04")),
        ("long answers (~2.8k chars)", where(loc, "z12", "w01")),
        ("zero-width U+200B", where(loc, "z16")),
        ("U+FEFF at start of output", where(loc, "w05")),
        ("control characters (ESC/ANSI in instruction; U+000C, U+0008)", where(loc, "s06", "w06")),
        ("HTML remnants (`<p>`, `<br>`, `<div>`, `<a href>`, `&nbsp;`, `&lt;`, `&amp;`)",
         where(loc, "s02", "s05", "s08", "s14", "s19", "s25", "s30", "z18", "w07")),
        ("escaped markdown (`1\\.`, `\\*`)",
         where(loc, "z02", "z04", "z09", "z27", "w08", "s11", "s27", "s33", "s34")),
        ("LaTeX", where(loc, "w01", "w03", "w04", "w24", "w28", "w29", "w34", "w35")
         + "; exam templated items " + where(loc, "m01", "m02", "m04")),
        ("traditional script outside chinese_traditional", where(loc, "d21", "x33")),
    ]
    L.append("| defect | where |")
    L.append("|---|---|")
    for a, b in rows:
        L.append(f"| {a} | {b} |")
    L.append("")

    L.append("## Personal data and secrets (should be scrubbed by clean)\n")
    L.append("| kind | value | where |")
    L.append("|---|---|---|")
    pii = [
        ("mobile (dashes)", "138-1234-5678", where(loc, "z02")),
        ("mobile (+86, spaces)", "+86 171 2345 6789", where(loc, "z34")),
        ("mobile (spaces)", "139 0000 1234", where(loc, "x05")),
        ("mobile (+86, no spaces)", "+8615900001111", where(loc, "au6")),
        ("mobile (plain, in instruction)", "13812345678", where(loc, "hv06")),
        ("mobile (spaces)", "139 1234 0000",
         f"ruozhiba/title-good.json item {t_idx['t40'] + 1}; {thread_files[-1][0]} (title and first post)"),
        ("landline", "010-12345678", where(loc, "z02")),
        ("landline", "0755-8765432", where(loc, "z34")),
        ("email", "drawwithmei@example.com", where(loc, "x05")),
        ("email", "suwanqing.studio@example.com", where(loc, "au2")),
        ("resident ID (valid checksum)", n["ID1"], where(loc, "w02")),
        ("resident ID (valid, check char X, in instruction)", n["ID2"], where(loc, "hv02")),
        ("resident ID (valid checksum)", n["ID3"], where(loc, "x06")),
        ("bank card number (passes Luhn)", n["CARD_GOOD"], where(loc, "hv03")),
        ("URL with token", "https://api.example.com/v1/orders?token=abc123secret&page=1", where(loc, "s04")),
        ("URL with api_key", "…&api_key=ak_7f3e9c2b1d", where(loc, "s05")),
        ("email inside a ``` code block", "dev.zhang@example.com", where(loc, "s03")),
    ]
    for a, b, c in pii:
        L.append(f"| {a} | `{b}` | {c} |")
    L.append("")
    L.append("## Near misses (must NOT be scrubbed)\n")
    L.append("| kind | value | where |")
    L.append("|---|---|---|")
    near = [
        ("18-digit order number, ID-shaped, wrong check char", n["ORDER"], where(loc, "x07")),
        ("16-digit card number, fails Luhn", n["CARD_BAD"], where(loc, "z17")),
    ]
    for a, b, c in near:
        L.append(f"| {a} | `{b}` | {c} |")
    L.append("")
    L.append("ID numbers use the GB 11643 weights 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2 "
             "(sum mod 11 → `10X98765432`); `make_sample.py` computes them and asserts the "
             "checksums and Luhn results.\n")

    L.append("## Near-duplicate pairs\n")
    L.append("| a | b | difference |")
    L.append("|---|---|---|")
    nd = [
        ("d01a", "d01b", "same synopsis, different prompt"),
        ("d01a", "d01c", "same synopsis, different prompt"),
        ("d01b", "d01c", "same synopsis, different prompt"),
        ("d02a", "d02b", "same synopsis, different prompt"),
        ("z08", "x01", "a few characters changed, hashtags appended"),
        ("z09", "x02", "boilerplate `以上内容仅供参考…` appended"),
        ("z16", "x09", "zero-width characters only (and prompt)"),
        ("z27", "w11", "boilerplate `以上内容仅供参考，如有不适请及时就医。` appended"),
        ("z36", "s08", "answer wrapped in `<p>` tags"),
        ("w09", "c29", "character-by-character traditional-script copy"),
        ("e05", "hv07", "`（ ）`→`( )`, `因此答案为：B`→`故本题选B。`"),
        ("x08a", "x08b", "same post, different title"),
    ]
    for a, b, d in nd:
        L.append(f"| {where(loc, a)} | {where(loc, b)} | {d} |")
    L.append("")
    L.append("Also: `ruozhiba/title-good.json` items "
             f"{t_idx['t38'] + 1} and {t_idx['t39'] + 1} are traditional-script variants of items "
             f"{t_idx['t16'] + 1} and {t_idx['t10'] + 1}.\n")
    L.append("## Exact duplicates (identical instruction, input and output)\n")
    for a, b in [("z13", "s07"), ("z14", "hv01"), ("au1", "w10")]:
        L.append(f"- {where(loc, a)} == {where(loc, b)}")
    L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------------------
# verification (re-reads the written files)
# ---------------------------------------------------------------------------

REC_KEYS = ["instruction", "input", "output", "task_type", "domain", "metadata",
            "answer_from", "human_verified", "copyright"]


def schema_ok(obj) -> bool:
    if not isinstance(obj, dict) or list(obj) != REC_KEYS:
        return False
    if not all(isinstance(obj[k], str) for k in
               ("instruction", "input", "output", "metadata", "answer_from", "copyright")):
        return False
    tt = obj["task_type"]
    if not (isinstance(tt, dict) and list(tt) == ["major", "minor"]
            and all(isinstance(tt[k], list) and all(isinstance(x, str) for x in tt[k]) for k in tt)):
        return False
    if not (isinstance(obj["domain"], list) and all(isinstance(x, str) for x in obj["domain"])):
        return False
    return isinstance(obj["human_verified"], bool)


def scan_jsonl(path: Path) -> dict:
    c = dict(lines=0, blank=0, ok=0, json_error=0, utf8_error=0, schema_error=0, bad_lines=[])
    for no, raw in enumerate(path.read_bytes().split(b"\n")[:-1], start=1):
        c["lines"] += 1
        if not raw.strip():
            c["blank"] += 1
            continue
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError:
            c["utf8_error"] += 1
            c["bad_lines"].append((no, "utf8"))
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError:
            c["json_error"] += 1
            c["bad_lines"].append((no, "json"))
            continue
        if schema_ok(obj):
            c["ok"] += 1
        else:
            c["schema_error"] += 1
            c["bad_lines"].append((no, "schema"))
    return c


def verify(out: Path, loc: dict) -> dict:
    counts = {}
    for name in SUBSETS:
        counts[name] = scan_jsonl(out / "cqia" / f"{name}.jsonl")
    bad = {(n, no, kind) for n, c in counts.items() for no, kind in c["bad_lines"]}
    want = {(loc["x30"][0], loc["x30"][1], "json"), (loc["x25"][0], loc["x25"][1], "utf8"),
            (loc["x20"][0], loc["x20"][1], "schema")}
    assert bad == want, (bad, want)
    assert sum(c["blank"] for c in counts.values()) == 1
    for name in ("title-good", "best-2021"):
        json.loads((out / "ruozhiba" / f"{name}.json").read_text(encoding="utf-8"))
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert total < 1_500_000, total
    return counts


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

def write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)


def main() -> None:
    rng = random.Random(SEED)
    out = HERE

    files, _ = build_cqia(rng)
    loc = {}
    for name, lines in files.items():
        for no, (key, _) in enumerate(lines, start=1):
            loc[key] = (name, no)
        write(out / "cqia" / f"{name}.jsonl", b"".join(b + b"\n" for _, b in lines))
    for key, want in EXPECTED_LINES.items():
        assert loc[key] == want, (key, loc[key], want)

    title_items, title_ids = build_title_good(rng)
    write(out / "ruozhiba" / "title-good.json",
          json.dumps(title_items, ensure_ascii=False, indent=2) + "\n")
    best_items = build_best(rng)
    write(out / "ruozhiba" / "best-2021.json",
          json.dumps(best_items, ensure_ascii=False, indent=2) + "\n")

    by_key = {e["key"]: (e, item) for e, item in zip(R.TITLES, title_items)}
    thread_meta, thread_files = [], []
    for th in R.THREADS:
        e, item = by_key[th["title"]]
        tid = title_ids[th["title"]]
        page = tieba_thread(rng, tid, e["title"], th["body"], th["replies"], item["lz"],
                            item["n_reply"])
        first_pid = int(page.split('id="post_content_', 1)[1].split('"', 1)[0])
        path = f"http/tieba/p/{tid}.html"
        write(out / path, page)
        thread_files.append((path, f"1 question post + {len(th['replies'])} replies"))
        thread_meta.append(dict(tid=tid, title=e["title"], lz=item["lz"], abs=item["abs"],
                                n_reply=int(item["n_reply"]), first_pid=first_pid))
    write(out / "http" / "tieba" / "f_good.html", tieba_list(thread_meta))
    for p in R.QA_PAGES:
        write(out / "http" / "qa" / "questions" / f"{p['n']}.html", qa_page(p))
    write(out / "http" / "qa" / "index.html", qa_index())
    write(out / "http" / "robots.txt", ROBOTS)

    counts = verify(out, loc)
    write(out / "README.md", build_readme(loc, counts, title_items, title_ids, best_items,
                                          thread_files))
    for name in SUBSETS:
        c = counts[name]
        print(f"cqia/{name}.jsonl: {c['lines']} lines, {c['ok']} valid, "
              f"blank={c['blank']} json_err={c['json_error']} utf8_err={c['utf8_error']} "
              f"schema_err={c['schema_error']}")
    print(f"ruozhiba: title-good {len(title_items)}, best-2021 {len(best_items)}; "
          f"tieba threads {len(thread_meta)}; qa pages {len(R.QA_PAGES)}")


if __name__ == "__main__":
    main()
