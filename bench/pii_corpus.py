"""A PII test corpus written for this project: planted personal data and secrets in the forms Chinese text uses.

`planted(seed)` gives (type, variant, text, value) rows, each text holding one planted item of a type
(phone, email, id_card, bank_card, secret, secret_kv) in one written variant: plain, grouped 3-4-4 /
3-8 / 6-8-4 / by 4, dashed, dotted, +86 / (+86) / 0086 / 86, full-width digits, `＠`, inside code, with
or without a cue word; secrets as URLs, vendor key shapes and values after a key (`api_key=`,
`apikey:`, `access_token `, `secret_key = "..."`, `password=`, `passwd:`, `token=`, `Authorization:
Bearer`, 密码：, 密钥：, 口令是, 令牌) in prose, code, JSON, YAML and `.env` lines. The look-alikes
(texts with no personal data) are in `bench/pii_lookalikes.py`. Every number and key is generated
(checksums computed), none real.
"""

from __future__ import annotations

import random

FULL = str.maketrans("0123456789@.-", "０１２３４５６７８９＠．－")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
AREAS = ("110105", "310104", "440305", "510107", "330106", "420111")
PREFIXES = ("138", "139", "158", "186", "177", "199", "135", "150")
CUES = ("电话", "手机", "联系方式：", "请拨打", "有事打我手机", "客服热线", "")
SENTENCES = ("您好，{x}，工作日随时联系。", "报名请留：{x}，过期不候。", "{x} 这是我的联系方式，记得保存。",
             "他说信息是 {x}，让我转告你。", "如有问题可以找 {x} 咨询。", "{x}（张先生）", "张经理 {x}",
             "联系人：李女士，{x}", "房东{x}，月租 2000 元", "{x} 张三 北京市朝阳区", "订餐 {x}，满 50 元免配送费",
             "收货人：王五 {x} 上海市浦东新区", "{x}（微信同号）", "本人 {x}，非诚勿扰", "{x} 王女士 求租两居室",
             "有事找 {x}，价格好商量", "中介 {x} 看房")


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
            ("code_assign", f"```python\nuser.mobile = '{m}'\n```"),
            ("spaced_3_8", f"{a} {b}{c}"), ("dashed_3_8", f"{a}-{b}{c}"), ("+86_dashed", f"+86-{a}-{b}-{c}"),
            ("+86_grouped", f"+86 {a} {b} {c}"), ("+86_dotted", f"+86.{a}.{b}.{c}"), ("paren_+86", f"(+86) {m}"),
            ("0086", f"0086 {m}"), ("full_width_3_8", f"{a}　{b}{c}".translate(FULL)),
            ("full_width_+86", f"＋８６ {m.translate(FULL)}"), ("full_width_dotted", f"{a}.{b}.{c}".translate(FULL)),
            ("next_to_amount", f"{m}，运费 {rng.randint(5, 30)} 元"), ("slash_pair", f"{m}/{mobile(rng)}"),
            ("spaced_dashes", f"{a} - {b} - {c}")]


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


def token(rng: random.Random, length: int) -> str:
    """A random key with letters and at least one digit."""
    chars = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    body = "".join(rng.choice(chars) for _ in range(length - 1))
    return body[:length // 2] + str(rng.randint(0, 9)) + body[length // 2:]


def password(rng: random.Random) -> str:
    return token(rng, rng.randint(6, 10)) + rng.choice(("", "!", "@", "#", "_", ".x"))


def secret_kv_variants(rng: random.Random) -> list[tuple[str, str, str]]:
    """(variant, text, value): a value after a secret-like key, in prose, code, JSON, YAML and .env lines."""
    v, pw, digits = token(rng, rng.randint(12, 32)), password(rng), str(rng.randint(100000, 99999999))
    jwt = f"eyJ{token(rng, 20)}.eyJ{token(rng, 24)}.{token(rng, 16)}"
    prefixed = rng.choice(("ak_", "tk-", "", "key_")) + v
    rows = [
        ("prose_api_key_eq", f"包括 api_key={prefixed} 这一段。", prefixed),
        ("prose_apikey_colon", f"把 apikey: {v} 填进配置就行。", v),
        ("prose_access_token_space", f"请求头里带上 access_token {v} 即可。", v),
        ("code_secret_key_quoted", f'```python\nsecret_key = "{v}"\n```', v),
        ("prose_password_eq", f"登录用 password={pw}，别外传。", pw),
        ("yaml_passwd", f"```yaml\ndatabase:\n  user: app\n  passwd: {pw}\n```", pw),
        ("prose_token_eq", f"接口参数 token={v}，有效期一天。", v),
        ("header_bearer", f"curl -H \"Authorization: Bearer {jwt}\" 可以拿到数据。", jwt),
        ("json_api_key", f'配置如下：{{"api_key": "{v}", "region": "cn-north-1"}}', v),
        ("env_line", f"```\nMAP_API_KEY={v}\nDEBUG=false\n```", v),
        ("env_password", f".env 文件里写 DB_PASSWORD={pw} 就能连上。", pw),
        ("zh_password_colon", f"账号 admin，密码：{pw}。", pw),
        ("zh_key_colon", f"密钥：{v}，请妥善保管。", v),
        ("zh_kouling_shi", f"口令是{pw}，进门要说。", pw),
        ("zh_lingpai_space", f"令牌 {v} 已下发。", v),
        ("zh_password_digits", f"默认密码是 {digits}，登录后修改。", digits),
        ("zh_password_full_width", f"密码：{pw.translate(FULL)}", pw.translate(FULL)),
        ("go_assign", f"```go\npassword := \"{pw}\"\n```", pw),
        ("js_camel", f"```js\nconst apiKey = '{v}';\n```", v),
        ("php_var", f"```php\n$db_password = '{pw}';\n```", pw),
        ("dict_item", f"```python\nconfig[\"client_secret\"] = \"{v}\"\n```", v),
        ("ini_spaced", f"```ini\n[auth]\npassword = {pw}\n```", pw),
        ("typed_python", f'```python\nAPI_TOKEN: str = "{v}"\n```', v),
        ("english_prose", f"Use the API key {v} to call the service.", v),
        ("appsecret_zh_colon", f"AppSecret：{v}", v), ("aliyun_pair", f"AccessKey ID: LTAI5t，AccessKey Secret: {v}", v),
        ("zh_miyao_variant", f"秘钥：{v}；私钥 {prefixed}", v), ("zh_auth_code", f"邮箱授权码是{v}", v),
        ("zh_wifi_password", f"WiFi 密码 {pw}，连上就行", pw), ("mysql_flag", f"mysql -uroot -p{pw} -h 127.0.0.1", pw),
        ("redis_conf", f"```\nrequirepass {pw}\n```", pw), ("export_token", f"export GITHUB_TOKEN={v}", v),
        ("header_x_api_key", f"x-api-key: {v}", v), ("php_arrow", f"'password' => '{pw}',", pw),
        ("json_pwd_tight", f'{{"user":"root","pwd":"{pw}"}}', pw), ("yaml_pass", f"```yaml\npass: {pw}\n```", pw),
        ("spring_properties", f"spring.datasource.password={pw}", pw), ("zh_lingpai_shi", f"令牌是 {v}", v),
        ("sql_identified_by", f"```sql\nALTER USER 'app'@'%' IDENTIFIED BY '{pw}';\n```", pw),
        ("curl_user", f"curl -u admin:{pw} https://api.example.com/v1", pw),
    ]
    return rows


VARIANTS = {"phone": phone_variants, "email": email_variants, "id_card": id_variants, "bank_card": card_variants,
            "secret": secret_variants, "secret_kv": secret_kv_variants}


def planted(seed: int = 7, per_type: int = 200) -> list[tuple[str, str, str, str]]:
    """(type, variant, text, value): at least `per_type` texts per type, cycling through its variants.

    `value` is the secret value that must be gone (secret_kv rows); empty for the others, which count as
    found when no digit run of 7+ is left."""
    rng, rows = random.Random(seed), []
    for kind, make in VARIANTS.items():
        count = 0
        while count < per_type:
            for item in make(rng):
                if len(item) == 3:  # (variant, text, secret value)
                    rows.append((kind, *item))
                else:
                    variant, value = item
                    cue = rng.choice(CUES) if kind == "phone" and not variant.startswith("code") else ""
                    text = value if value.startswith("```") else rng.choice(SENTENCES).format(x=f"{cue}{value}")
                    rows.append((kind, variant, text, ""))
                count += 1
    return rows
