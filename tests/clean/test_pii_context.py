"""Mobile-shaped numbers: phones in every written form are found; amounts, counts, order and tracking numbers,
arithmetic and digit puzzles are left alone (stages/clean/pii_context.py), and an order cue keeps a card number."""

import pytest

from tests.clean.fixtures import clean_one
from tests.clean.test_pii import with_luhn


@pytest.mark.parametrize("text, expected", [
    ("电话 138 12345678", "电话 <PHONE>"),
    ("手机：138-12345678", "手机：<PHONE>"),
    ("号码：138 - 1234 - 5678", "号码：<PHONE>"),
    ("+86-138-1234-5678 或 +86 139 1234 5678", "<PHONE> 或 <PHONE>"),
    ("(+86) 13812345678，0086 13912345678", "<PHONE>，<PHONE>"),
    ("+86.138.1234.5678", "<PHONE>"),
    ("＋８６ １３８　１２３４５６７８", "<PHONE>"),
    ("（＋８６）１３８．１２３４．５６７８", "<PHONE>"),
    ("13812345678/13912345678 都能打通", "<PHONE>/<PHONE> 都能打通"),
    ("13812345678 张三 北京市朝阳区", "<PHONE> 张三 北京市朝阳区"),
    ("房东13812345678，月租 2000 元", "房东<PHONE>，月租 2000 元"),
    ("13812345678 加我微信", "<PHONE> 加我微信"),
    ("请拨打电话 13912345678 计算费用", "请拨打电话 <PHONE> 计算费用"),
])
def test_phones_in_every_written_form_are_found(text, expected):
    assert clean_one(text) == (expected, ["pii:phone"])


@pytest.mark.parametrize("text", [
    "总价 13812345678 元", "合计13812345678元整", "这台手机售价 13812345678 元", "账户还剩 13812345678.50 元",
    "公司市值约 15912345678 万", "全年产值达到 18612345678 亿元", "预算￥15912345678", "金额：18612345678",
    "价格 13812345678，可议。", "营业额 13812345678", "RMB 13812345678", "$ 13812345678",
])
def test_amounts_are_not_phones(text):
    assert clean_one(text) == (text, [])


@pytest.mark.parametrize("text", [
    "把数字 13812345678 的各位数字相加，和是多少？", "求 13812345678 除以 7 的余数。", "13812345678 mod 7 = ?",
    "13812345678 是几位数？", "对 13812345678 做质因数分解。", "把 13812345678 转成十六进制", "13812345678 读作什么？",
    "13812345678 与 13912345678 的差是多少？", "13812345678 和 13912345678 哪个大？", "比 13812345678 大 1 的数是多少？",
    "n = 13812345678，求 n 的各位数字之和。", "print(13812345678 % 7)", "assert f(13812345678) == 42",
    "数组 [3, 13812345678, 7]", "证明 13812345678 不是完全平方数",
])
def test_numbers_in_arithmetic_and_digit_puzzles_are_not_phones(text):
    assert clean_one(text) == (text, [])


@pytest.mark.parametrize("text", [
    "订单号：13812345678", "您的订单 13812345678 已发货。", "快递单号 13812345678", "运单号：13812345678",
    "tracking number: 13812345678", "学号 13812345678", "ID: 13812345678", "共有 13812345678 条记录",
    "第 13812345678 位访客", "该地区人口 13812345678 人", "时间戳 1712345678，毫秒 1712345678901",
    "ISBN 9787111234567", "20231012134500",
])
def test_order_numbers_counts_timestamps_and_dates_are_not_phones(text):
    assert clean_one(text) == (text, [])


def test_an_order_cue_keeps_a_card_shaped_number_a_card_cue_does_not():
    card = with_luhn("622202123456789")
    assert clean_one(f"订单号：{card}") == (f"订单号：{card}", [])
    assert clean_one(f"卡号 {card}") == ("卡号 <BANK_CARD>", ["pii:bank_card"])


def test_context_stops_at_a_line_end():
    assert clean_one("求余数\n13812345678") == ("求余数\n<PHONE>", ["pii:phone"])
