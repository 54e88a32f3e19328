"""PII in the forms Chinese text really uses: width-folded detection, grouped IDs, dotted phones, phones in code,
and 11-digit numbers in arithmetic left alone; recall per type and false scrubs per look-alike family on the
written corpus (bench/pii_corpus.py, bench/pii_lookalikes.py)."""

import re

import pytest

from bench.pii import measure, summary
from bench.pii_corpus import FULL
from stages.clean.normalize_text import NormalizeParams
from stages.clean.normalizing import normalize_records
from stages.clean.records import clean_records
from stages.lib.params import parse_section
from tests.clean.fixtures import clean_one, frame, row, settings
from tests.clean.test_pii import ID_OK


@pytest.mark.parametrize("text, expected, tag", [
    ("手机１３８１２３４５６７８，晚上打", "手机<PHONE>，晚上打", "pii:phone"),
    ("电话 １３８－１２３４－５６７８。", "电话 <PHONE>。", "pii:phone"),
    ("电话 138.1234.5678 转人工", "电话 <PHONE> 转人工", "pii:phone"),
    ("邮箱 zhang.san＠example.com 收简历", "邮箱 <EMAIL> 收简历", "pii:email"),
    (f"身份证号 {ID_OK[:6]} {ID_OK[6:14]} {ID_OK[14:]} 已登记", "身份证号 <ID_CARD> 已登记", "pii:id_card"),
    (f"身份证号 {ID_OK.translate(FULL)} 已登记", "身份证号 <ID_CARD> 已登记", "pii:id_card"),
])
def test_written_variants_are_found(text, expected, tag):
    assert clean_one(text) == (expected, [tag])


def test_phone_assigned_in_code_is_scrubbed_other_numbers_in_code_stay():
    text = '示例：\n```json\n{"name": "张三", "phone": "18672858778", "order": 18672858779}\n```'
    out, tags = clean_one(text)
    assert out == '示例：\n```json\n{"name": "张三", "phone": "<PHONE>", "order": 18672858779}\n```'
    assert tags == ["pii:phone"]


@pytest.mark.parametrize("text", [
    "求 17564083094 除以 7 的余数。",
    "计算 13912345678 + 22 的结果。",
    "已知 a = 15912345678，求 a 的各位数字之和。",
    "18612345678 是质数吗？",
])
def test_numbers_in_arithmetic_are_not_phones(text):
    assert clean_one(text) == (text, [])


def test_a_phone_cue_wins_over_arithmetic_words():
    assert clean_one("请拨打电话 13912345678 计算费用")[0] == "请拨打电话 <PHONE> 计算费用"


def test_full_width_phone_never_reaches_normalize_as_plain_digits():
    kept, _, _ = clean_records(frame(row("1", "怎么联系你？", output="我的手机是１３９１２３４５６７８，欢迎来电咨询。")),
                               settings())
    normalized, _ = normalize_records(kept, parse_section(
        NormalizeParams, {"opencc_default": "t2s", "opencc_by_source": {}, "width": True, "punct": True}, "normalize"))
    assert normalized["output"].to_list() == ["我的手机是<PHONE>，欢迎来电咨询。"]


def test_corpus_recall_and_false_scrubs():
    result = measure()
    by_type, false = summary(result)
    assert set(by_type) == {"phone", "email", "id_card", "bank_card", "secret", "secret_kv"}
    for kind, (hit, total) in by_type.items():
        assert total >= 200 and hit / total >= 0.98, (kind, result["missed_examples"])
    assert len(false) >= 13
    for family, (bad, total) in false.items():
        assert total >= 100 and bad / total <= 0.01, (family, result["false_examples"])


def test_the_contact_start_lookahead_finds_the_same_matches():
    from stages.clean.pii import _CONTACT, _CONTACT_START, fold
    from tests.clean.test_pii_secrets import written_texts

    plain = re.compile(_CONTACT.pattern.removeprefix(_CONTACT_START))
    texts = [fold(text) for text in written_texts()]
    found = [[m.span() for m in _CONTACT.finditer(text)] for text in texts]
    assert sum(map(len, found)) > 1000
    assert found == [[m.span() for m in plain.finditer(text)] for text in texts]
