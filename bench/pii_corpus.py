"""A PII test corpus written for this project: planted personal data in the forms Chinese text uses, and look-alikes.

`planted(seed)` gives (type, variant, text, value) rows, each text holding one planted item of a type
(phone, email, id_card, bank_card, secret) in one written variant: plain, grouped, dotted, +86,
full-width digits, `＠`, inside code, with or without a cue word. `lookalikes(seed)` gives (kind, text)
rows holding no personal data: order and tracking numbers, ISBNs, prices, dates, timestamps, version
numbers, and 11-digit numbers in arithmetic. Every number is generated (checksums computed), none real.
"""

from __future__ import annotations

import random

FULL = str.maketrans("0123456789@.-", "０１２３４５６７８９＠．－")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
AREAS = ("110105", "310104", "440305", "510107", "330106", "420111")
PREFIXES = ("138", "139", "158", "186", "177", "199", "135", "150")
CUES = ("电话", "手机", "联系方式：", "请拨打", "有事打我手机", "客服热线", "")
SENTENCES = ("您好，{x}，工作日随时联系。", "报名请留：{x}，过期不候。", "{x} 这是我的联系方式，记得保存。",
             "他说信息是 {x}，让我转告你。", "如有问题可以找 {x} 咨询。")


def luhn_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def id_number(rng: random.Random) -> str:
    body = rng.choice(AREAS) + f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body += f"{rng.randint(0, 999):03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS)) % 11]


def card_number(rng: random.Random) -> str:
    prefix, length = rng.choice((("62", 16), ("62", 19), ("4", 16), ("52", 16), ("6011", 16)))
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    return body + luhn_digit(body)


def mobile(rng: random.Random) -> str:
    return rng.choice(PREFIXES) + "".join(str(rng.randint(0, 9)) for _ in range(8))


def phone_variants(rng: random.Random) -> list[tuple[str, str]]:
    m = mobile(rng)
    a, b, c = m[:3], m[3:7], m[7:]
    landline = f"0{rng.choice(('10', '21', '755', '571'))}-{rng.randint(2000000, 89999999)}"
    return [("plain", m), ("dashed", f"{a}-{b}-{c}"), ("spaced", f"{a} {b} {c}"), ("dotted", f"{a}.{b}.{c}"),
            ("+86", f"+86 {m}"), ("86", f"86{m}"), ("full_width", m.translate(FULL)),
            ("full_width_dashed", f"{a}-{b}-{c}".translate(FULL)),
            ("full_width_spaced", f"{a}　{b}　{c}".translate(FULL)), ("in_brackets", f"（{m}）"),
            ("extension", f"{m} 转 {rng.randint(100, 999)}"), ("landline", landline),
            ("landline_bracket", f"（0{rng.choice(('10', '21'))}）{rng.randint(20000000, 89999999)}"),
            ("code_json", f'```json\n{{"name": "张三", "phone": "{m}"}}\n```'),
            ("code_assign", f"```python\nuser.mobile = '{m}'\n```")]


def email_variants(rng: random.Random) -> list[tuple[str, str]]:
    user = rng.choice(("zhang.san", "li_si2020", "wangwu", "service", "hr-team"))
    host = rng.choice(("example.com", "mail.example.cn", "corp.example.org"))
    return [("plain", f"{user}@{host}"), ("full_width_at", f"{user}＠{host}"),
            ("full_width_all", f"{user}@{host}".translate(FULL)), ("upper", f"{user}@{host}".upper()),
            ("in_code", f"```\nEMAIL = '{user}@{host}'\n```")]


def id_variants(rng: random.Random) -> list[tuple[str, str]]:
    number = id_number(rng)
    grouped = f"{number[:6]} {number[6:14]} {number[14:]}"
    return [("plain", number), ("grouped_6_8_4", grouped), ("dashed_6_8_4", grouped.replace(" ", "-")),
            ("full_width", number.translate(FULL)), ("lower_x", number.lower())]


def card_variants(rng: random.Random) -> list[tuple[str, str]]:
    number = card_number(rng)
    grouped = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    return [("plain", number), ("grouped", grouped), ("dashed", grouped.replace(" ", "-")),
            ("full_width", number.translate(FULL))]


def secret_variants(rng: random.Random) -> list[tuple[str, str]]:
    token = "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGH23456789") for _ in range(32))
    return [("key_shape", f"sk-{token}"), ("url_token", f"https://api.example.com/v1/data?access_token={token}"),
            ("assignment", f'```python\napi_key = "{token[:20]}"\n```'),
            ("url_userinfo", f"https://deploy:{token[:12]}@git.example.com/repo.git")]


VARIANTS = {"phone": phone_variants, "email": email_variants, "id_card": id_variants, "bank_card": card_variants,
            "secret": secret_variants}


def planted(seed: int = 7, per_type: int = 48) -> list[tuple[str, str, str]]:
    """(type, variant, text): at least `per_type` texts per type, cycling through its variants."""
    rng, rows = random.Random(seed), []
    for kind, make in VARIANTS.items():
        count = 0
        while count < per_type:
            for variant, value in make(rng):
                cue = rng.choice(CUES) if kind == "phone" and not variant.startswith("code") else ""
                text = value if value.startswith("```") else rng.choice(SENTENCES).format(x=f"{cue}{value}")
                rows.append((kind, variant, text))
                count += 1
    return rows


def lookalikes(seed: int = 11, per_kind: int = 25) -> list[tuple[str, str]]:
    """(kind, text): numbers and addresses that are not personal data."""
    rng, rows = random.Random(seed), []
    for _ in range(per_kind):
        m = mobile(rng)
        order = f"{rng.randint(2019, 2025)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" + \
            "".join(str(rng.randint(0, 9)) for _ in range(10))
        isbn = f"978-7-{rng.randint(100, 999)}-{rng.randint(10000, 99999)}-{rng.randint(0, 9)}"
        rows += [
            ("order_number", f"订单号：{order}，请在个人中心查看物流。"),
            ("tracking", f"快递单号 SF{rng.randint(10**11, 10**12 - 1)} 已发出。"),
            ("isbn", f"本书 ISBN {isbn}，定价 {rng.randint(20, 99)}.00 元。"),
            ("price", f"总价￥{rng.randint(1000, 99999)}.{rng.randint(0, 99):02d}，分 {rng.randint(3, 24)} 期。"),
            ("date", f"会议定于 {rng.randint(2020, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 14:30 召开。"),
            ("timestamp", f"日志时间戳 {rng.randint(1_600_000_000, 1_800_000_000)} 对应北京时间下午。"),
            ("version", f"升级到 v{rng.randint(1, 20)}.{rng.randint(0, 99)}.{rng.randint(0, 999)} 后问题解决。"),
            ("math_remainder", f"求 {m} 除以 7 的余数。"),
            ("math_sum", f"已知 a = {m}，求 a 的各位数字之和。"),
            ("math_expression", f"计算 {m} + {rng.randint(1, 999)} 的结果。"),
            ("math_digits", f"{m} 是质数吗？请说明理由。"),
            ("population", f"该市常住人口约为 {rng.randint(10**9, 2 * 10**9)} 人（含流动人口）。"),
            ("id_bad_check", f"编号 {bad_check_id(rng)} 仅作内部登记。"),
            ("card_bad_luhn", f"流水 {bad_luhn_card(rng)} 已入账。"),
            ("package_at", f"安装 lodash@4.17.{rng.randint(1, 21)} 并使用装饰器 @app.route。"),
            ("long_order_in_code", f"```\norder_id = {order}{rng.randint(10, 99)}\n```"),
        ]
    return rows


def bad_check_id(rng: random.Random) -> str:
    number = id_number(rng)
    wrong = "10X98765432".replace(number[-1].upper(), "")
    return number[:-1] + rng.choice([c for c in wrong if c != "X"])


def bad_luhn_card(rng: random.Random) -> str:
    number = card_number(rng)
    return number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
