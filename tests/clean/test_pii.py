"""PII scrubbing: each type, its typed placeholder, the count, and near misses that must stay."""

import pytest

from stages.clean.pii import bank_card_valid, id_card_valid, luhn_valid
from tests.clean.fixtures import clean_many, clean_one


def with_id_check(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights)) % 11]


def with_luhn(body: str) -> str:
    return next(body + str(d) for d in range(10) if luhn_valid(body + str(d)))


ID_OK = with_id_check("11010519900307123")
ID_X = "11010519491231002X"  # check character X
CARD = with_luhn("622202123456789")  # UnionPay, 16 digits
VISA = with_luhn("411111111111111")


def test_checksum_helpers():
    assert id_card_valid(ID_OK) and id_card_valid(ID_X) and id_card_valid(ID_X.lower())
    assert not id_card_valid(ID_OK[:-1] + str((int(ID_OK[-1]) + 1) % 10) if ID_OK[-1] != "X" else ID_OK[:-1] + "0")
    assert not id_card_valid("110105199013071234")  # month 13
    assert bank_card_valid(CARD) and bank_card_valid(VISA)
    assert bank_card_valid(" ".join([CARD[i:i + 4] for i in range(0, 16, 4)]))
    assert not bank_card_valid(CARD[:-1] + str((int(CARD[-1]) + 1) % 10))
    assert not bank_card_valid(with_luhn("123456781234567"))  # Luhn-valid, but no card network starts with 1


@pytest.mark.parametrize("text, expected", [
    ("电话13812345678，请回电", "电话<PHONE>，请回电"),
    ("手机 +86 139-1234-5678 或 8615912345678", "手机 <PHONE> 或 <PHONE>"),
    ("分机 138 1234 5678。", "分机 <PHONE>。"),
    ("座机 010-12345678，(0755)1234567，（021）87654321", "座机 <PHONE>，<PHONE>，<PHONE>"),
])
def test_phones(text, expected):
    out, tags = clean_one(text)
    assert out == expected and tags == ["pii:phone"]


@pytest.mark.parametrize("text", [
    "订单号 12345678901 不是手机号",          # starts with 12
    "流水号 2023138123456789 里有手机号的样子",  # inside a longer number
    "型号 AB13812345678",                   # glued to Latin letters
    "年份 2023-12345678 不是座机",
])
def test_phone_near_misses_stay(text):
    assert clean_one(text) == (text, [])


def test_id_cards_only_with_valid_checksum():
    order = ID_OK[:-1] + ("0" if ID_OK[-1] != "0" else "1")  # same shape, wrong check digit
    text = f"身份证 {ID_OK}，另一个 {ID_X.lower()}；订单号 {order} 保留"
    out, tags = clean_one(text)
    assert out == f"身份证 <ID_CARD>，另一个 <ID_CARD>；订单号 {order} 保留"
    assert tags == ["pii:id_card"]


def test_bank_cards_only_with_luhn_and_network_prefix():
    grouped = " ".join(CARD[i:i + 4] for i in range(0, 16, 4))
    bad = CARD[:-1] + str((int(CARD[-1]) + 1) % 10)
    no_network = with_luhn("123456781234567")
    out, tags = clean_one(f"卡号 {grouped}，Visa {VISA}；错号 {bad}；编号 {no_network}")
    assert out == f"卡号 <BANK_CARD>，Visa <BANK_CARD>；错号 {bad}；编号 {no_network}"
    assert tags == ["pii:bank_card"]


def test_eighteen_digit_order_number_with_bad_checksum_stays():
    text = "订单编号：202311051234567890，请保存"
    assert not id_card_valid("202311051234567890") and not bank_card_valid("202311051234567890")
    assert clean_one(text) == (text, [])


def test_emails_and_keys_are_scrubbed_in_code_too_but_numbers_in_code_stay():
    text = ("联系 zhang.san@example.com\n```python\nEMAIL = 'dev@corp.cn'  # 13812345678\n"
            "api_key = \"abcd1234efgh5678\"\nopenai = 'sk-abcdefghijklmnopqrstuvwxyz012345'\n```")
    out, tags = clean_one(text)
    assert out == ("联系 <EMAIL>\n```python\nEMAIL = '<EMAIL>'  # 13812345678\n"
                   "api_key = \"<SECRET>\"\nopenai = '<SECRET_KEY>'\n```")
    assert tags == ["pii:secret_key", "pii:secret_kv", "pii:email"]


@pytest.mark.parametrize("text, expected", [
    ("接口 https://api.example.com/v1?user=1&access_token=abcDEF123 可用", "接口 <SECRET_URL> 可用"),
    ("签名 https://bucket.s3.amazonaws.com/f.zip?X-Amz-Signature=f00ba4&x=1。", "签名 <SECRET_URL>。"),
    ("仓库 https://user:hunter22@git.example.com/repo.git", "仓库 <SECRET_URL>"),
    ("AWS AKIAIOSFODNN7EXAMPLE 和 GitHub ghp_" + "a" * 36, "AWS <SECRET_KEY> 和 GitHub <SECRET_KEY>"),
])
def test_secret_urls_and_keys(text, expected):
    assert clean_one(text)[0] == expected


@pytest.mark.parametrize("text", [
    "文档 https://example.com/list?page=2&sort=asc 正常",
    "配置 password = \"abc\" 太短不算",
    "npm 包 lodash@4.17.21 和装饰器 @app.route",
])
def test_secret_and_email_near_misses_stay(text):
    assert clean_one(text) == (text, [])


def test_counts_per_type():
    _, _, counts = clean_many([f"电话13812345678、13912345678，邮箱 a@b.cn", f"身份证 {ID_X}", f"卡 {CARD}"])
    assert counts == {"phone": 2, "email": 1, "id_card": 1, "bank_card": 1, "secret_url": 0, "secret_key": 0,
                      "secret_kv": 0}
