"""Look-alikes for the PII bench: texts holding no personal data or secret, in families, written for this project.

`lookalikes(seed, per_family)` gives (family, text) rows, `per_family` per family, cycling through each
family's templates with fresh generated numbers. Most numbers are mobile-shaped (11 digits, 1[3-9]...),
the hardest case, or card-shaped (16-19 digits with a card-network prefix): amounts (a unit after, a
currency or money word before), digit puzzles and arithmetic, counts and ordinals, order and tracking
numbers, ISBNs, unix timestamps (10 and 13 digits), dates, prose and code about keys without a value,
keys with placeholder values, and other numbers (versions, populations, ID-shaped numbers with a wrong check character,
Luhn-failing card numbers, `lodash@4.17.21`). None is real.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from bench.pii_corpus import card_number, id_number

Make = Callable[[random.Random], str]


def digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def eleven(rng: random.Random) -> str:
    """Mobile-shaped: 11 digits starting 13-19."""
    return f"1{rng.randint(3, 9)}" + digits(rng, 9)


def long_number(rng: random.Random) -> str:
    """An order-like number: mobile-shaped, card-shaped (random, so ~1 in 10 passes Luhn) or date-prefixed."""
    kind = rng.randint(0, 2)
    if kind == 0:
        return eleven(rng)
    if kind == 1:
        prefix = rng.choice(("4", "62", "52", "35", "6011"))
        return prefix + digits(rng, rng.choice((16, 18, 19)) - len(prefix))
    return f"{rng.randint(2019, 2025)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" + digits(rng, 10)


def isbn13(rng: random.Random) -> str:
    body = "9787" + digits(rng, 8)
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    return body + str(check)


def isbn10(rng: random.Random) -> str:
    body = "7" + digits(rng, 8)
    check = (11 - sum(int(d) * (10 - i) for i, d in enumerate(body)) % 11) % 11
    return body + ("X" if check == 10 else str(check))


def date(rng: random.Random) -> tuple[int, int, int]:
    return rng.randint(1990, 2026), rng.randint(1, 12), rng.randint(1, 28)


FAMILIES: dict[str, list[Make]] = {
    "amount_after": [
        lambda r: f"总价 {eleven(r)} 元", lambda r: f"这批货共计 {eleven(r)} 元。", lambda r: f"合计{eleven(r)}元整",
        lambda r: f"项目总投资 {eleven(r)} 元，分三期建设。", lambda r: f"他一共卖了 {eleven(r)} 块钱。",
        lambda r: f"公司市值约 {eleven(r)} 万", lambda r: f"全年产值达到 {eleven(r)} 亿元。",
        lambda r: f"账户还剩 {eleven(r)}.{r.randint(0, 99):02d} 元", lambda r: f"被罚 {eleven(r)} 美元",
        lambda r: f"折合 {eleven(r)} 元人民币", lambda r: f"预计亏损 {eleven(r)} 万元左右。",
        lambda r: f"退款 {eleven(r)}元 已原路返回", lambda r: f"{eleven(r)} 元的预算够不够？",
        lambda r: f"筹得 {eleven(r)} 港元。", lambda r: f"欠了 {eleven(r)}块，怎么还？",
        lambda r: f"这台手机售价 {eleven(r)} 元", lambda r: f"买手机花了 {eleven(r)} 元", lambda r: f"房贷总额 {eleven(r)} 元",
        lambda r: f"这个月的电费是 {eleven(r)} 元吗", lambda r: f"{eleven(r)} 元/吨", lambda r: f"净利润：{eleven(r)} 元",
    ],
    "amount_before": [
        lambda r: f"¥{eleven(r)}", lambda r: f"售价：￥{eleven(r)}，包邮。", lambda r: f"价格 {eleven(r)}，可议。",
        lambda r: f"预算 {eleven(r)}，想配一台电脑。", lambda r: f"金额：{eleven(r)}", lambda r: f"总价{eleven(r)}（含税）",
        lambda r: f"费用为 {eleven(r)}，请确认。", lambda r: f"成本约 {eleven(r)}，利润很薄。",
        lambda r: f"收入 {eleven(r)}，支出 {r.randint(1000, 99999)}。", lambda r: f"RMB {eleven(r)}",
        lambda r: f"USD {eleven(r)}", lambda r: f"$ {eleven(r)}", lambda r: f"￥ {eleven(r)}.00",
        lambda r: f"订单金额 {eleven(r)} 已支付", lambda r: f"年营收达 {eleven(r)}，同比增长。",
        lambda r: f"估值 {eleven(r)}", lambda r: f"单价 {eleven(r)}", lambda r: f"标价 {eleven(r)}",
        lambda r: f"营业额 {eleven(r)}", lambda r: f"销售额为 {eleven(r)}",
    ],
    "math_digits": [
        lambda r: f"把数字 {eleven(r)} 的各位数字相加，和是多少？", lambda r: f"{eleven(r)} 的各位数字之和是多少？",
        lambda r: f"将 {eleven(r)} 的各位数字倒序排列，得到的新数是多少？", lambda r: f"{eleven(r)} 是几位数？",
        lambda r: f"{eleven(r)} 中有几个数字 8？", lambda r: f"{eleven(r)} 的个位数字是几？",
        lambda r: f"判断 {eleven(r)} 是不是回文数。", lambda r: f"写出 {eleven(r)} 的二进制表示。",
        lambda r: f"对 {eleven(r)} 做质因数分解。", lambda r: f"数字 {eleven(r)} 各位之和等于多少？",
        lambda r: f"整数 {eleven(r)} 的末尾有几个 0？", lambda r: f"{eleven(r)} 能被 9 整除吗？",
        lambda r: f"n = {eleven(r)}，求 n 的各位数字之和。", lambda r: f"用 Python 计算 {eleven(r)} 的各位数之积。",
        lambda r: f"自然数 {eleven(r)} 有多少个约数？", lambda r: f"把 {eleven(r)} 倒过来写是多少？",
        lambda r: f"{eleven(r)} 是奇数还是偶数？", lambda r: f"{eleven(r)} 是质数吗？请说明理由。",
        lambda r: f"把 {eleven(r)} 转成十六进制", lambda r: f"{eleven(r)} 用科学计数法表示", lambda r: f"{eleven(r)} 读作什么？",
        lambda r: f"把 {eleven(r)} 四舍五入到亿位", lambda r: f"{eleven(r)} 的最高位是什么位？",
        lambda r: f"写出 {eleven(r)} 的所有因数", lambda r: f"数 {eleven(r)} 中 1 出现了几次",
        lambda r: f"证明 {eleven(r)} 不是完全平方数", lambda r: f"{eleven(r)} 是 3 的倍数吗",
        lambda r: f"输入 n={eleven(r)}，输出其各位之和", lambda r: f"把 {eleven(r)} 分解质因数",
    ],
    "math_arith": [
        lambda r: f"求 {eleven(r)} 除以 7 的余数。", lambda r: f"{eleven(r)} mod 7 = ?", lambda r: f"{eleven(r)} ÷ 3 等于多少？",
        lambda r: f"{eleven(r)} × 2 = ?", lambda r: f"计算 {eleven(r)} - {r.randint(1, 999)}。",
        lambda r: f"{eleven(r)} 加上 {r.randint(1, 999)} 等于多少？", lambda r: f"{eleven(r)} % 11 的值是多少？",
        lambda r: f"{eleven(r)}^2 的末两位是多少？", lambda r: f"比较 {eleven(r)} 和 {eleven(r)} 的大小。",
        lambda r: f"{eleven(r)} 与 {eleven(r)} 的差是多少？", lambda r: f"a = {eleven(r)}，b = {r.randint(2, 99)}，求 a + b。",
        lambda r: f"已知 x = {eleven(r)}，求 x 除以 9 的余数。", lambda r: f"{eleven(r)} 除以 {r.randint(2, 99)} 的商是多少？",
        lambda r: f"{eleven(r)} 的平方根约等于多少？", lambda r: f"{eleven(r)} + {eleven(r)} = ?",
        lambda r: f"比 {eleven(r)} 大 1 的数是多少？", lambda r: f"{eleven(r)} 减 1 等于多少？", lambda r: f"{eleven(r)}×9+1 等于多少",
        lambda r: f"算一下 {eleven(r)} 乘以 3", lambda r: f"{eleven(r)} 和 {eleven(r)} 哪个大？",
        lambda r: f"若 x={eleven(r)}，求 x-1",
        lambda r: f"（{eleven(r)} + 1）÷ 2", lambda r: f"试求 {eleven(r)} 的平方", lambda r: f"用 {eleven(r)} 除以 13",
        lambda r: f"print({eleven(r)} % 7)", lambda r: f"assert f({eleven(r)}) == 42",
        lambda r: f"数组 [3, {eleven(r)}, 7]",
    ],
    "counts_and_ordinals": [
        lambda r: f"共有 {eleven(r)} 条记录", lambda r: f"该地区人口 {eleven(r)} 人", lambda r: f"流量 {eleven(r)} 字节",
        lambda r: f"访问量达到 {eleven(r)} 次", lambda r: f"数列第 {eleven(r)} 项", lambda r: f"第 {eleven(r)} 位访客",
        lambda r: f"全国共有 {eleven(r)} 名考生", lambda r: f"第{eleven(r)}号选手", lambda r: f"打了 {eleven(r)} 折",
        lambda r: f"样例输入：{eleven(r)}", lambda r: f"累计下载 {eleven(r)} 次", lambda r: f"总计 {eleven(r)} 个样本",
    ],
    "order_number": [
        lambda r: f"订单号：{long_number(r)}", lambda r: f"订单编号 {long_number(r)}，请在个人中心查看。",
        lambda r: f"您的订单 {long_number(r)} 已发货。", lambda r: f"单号 {long_number(r)}",
        lambda r: f"交易流水号：{long_number(r)}", lambda r: f"工单号 {long_number(r)} 已关闭。",
        lambda r: f"发票号码：{long_number(r)}", lambda r: f"合同编号 {long_number(r)}",
        lambda r: f"退款单号 {long_number(r)} 处理中。", lambda r: f"Order No. {long_number(r)}",
        lambda r: f"订单ID：{long_number(r)}", lambda r: f"序列号 {long_number(r)}",
        lambda r: f"取件码 {eleven(r)}", lambda r: f"学号 {eleven(r)}", lambda r: f"订单号为{long_number(r)}",
        lambda r: f"ID: {eleven(r)}", lambda r: f"uid={eleven(r)}", lambda r: f"工号{eleven(r)}",
        lambda r: f"QQ群号 {eleven(r)}",
    ],
    "tracking_number": [
        lambda r: f"快递单号 {long_number(r)}", lambda r: f"运单号：{eleven(r)}", lambda r: f"物流单号 {eleven(r)}，请注意查收。",
        lambda r: f"顺丰 SF{digits(r, 12)} 已揽收", lambda r: f"中通快递单号：7{digits(r, 13)}",
        lambda r: f"圆通 YT{digits(r, 13)}", lambda r: f"京东 JD{digits(r, 13)} 已签收",
        lambda r: f"EMS EA{digits(r, 9)}CN", lambda r: f"查询运单 {eleven(r)} 的物流信息",
        lambda r: f"韵达单号 {eleven(r)}", lambda r: f"tracking number: {eleven(r)}",
        lambda r: f"快递：{eleven(r)}（中通）",
    ],
    "isbn": [
        lambda r: f"本书 ISBN 978-7-{r.randint(100, 999)}-{r.randint(10000, 99999)}-{r.randint(0, 9)}，定价 45.00 元。",
        lambda r: f"ISBN：{isbn13(r)}", lambda r: f"书号 ISBN {isbn10(r)}", lambda r: f"ISBN-13: {isbn13(r)}",
        lambda r: f"请按 ISBN {isbn13(r)} 检索。",
    ],
    "timestamp": [
        lambda r: f"时间戳 {r.randint(10**9, 2 * 10**9 - 1)}", lambda r: f"ts={r.randint(10**12, 2 * 10**12 - 1)}",
        lambda r: f'"created_at": {r.randint(10**12, 2 * 10**12 - 1)}',
        lambda r: f"Date.now() 返回 {r.randint(10**12, 2 * 10**12 - 1)}",
        lambda r: f"unix 时间 {r.randint(10**9, 2 * 10**9 - 1)} 对应北京时间下午。",
        lambda r: f"日志：[{r.randint(10**9, 2 * 10**9 - 1)}] 服务启动", lambda r: f"expire={r.randint(10**9, 2 * 10**9 - 1)}",
        lambda r: f"耗时到 {r.randint(10**12, 2 * 10**12 - 1)} 毫秒为止",
    ],
    "date": [
        lambda r: "会议定于 {}-{:02d}-{:02d} 14:30 召开。".format(*date(r)),
        lambda r: "{}/{:02d}/{:02d} 13:45:00".format(*date(r)),
        lambda r: "版本日期 {}{:02d}{:02d}".format(*date(r)), lambda r: "{}年{}月{}日".format(*date(r)),
        lambda r: "截止 {}.{:02d}.{:02d} 18:00".format(*date(r)),
        lambda r: "{}{:02d}{:02d}{:02d}{:02d}{:02d}".format(*date(r), r.randint(0, 23), r.randint(0, 59),
                                                            r.randint(0, 59)),
        lambda r: "日期 {}-{:02d}-{:02d} 至 {}-{:02d}-{:02d}".format(*date(r), *date(r)),
        lambda r: "{}-{:02d}-{:02d}T13:45:00+08:00".format(*date(r)),
    ],
    "keys_in_prose": [
        lambda r: "前端直接调用地图服务，api_key 写在代码里会被别人盗用吗？", lambda r: "password 要多长才算安全？",
        lambda r: "access_token 过期了怎么办？", lambda r: f"如何在第 {r.randint(2, 9)} 步重置 token？",
        lambda r: f"密码：至少 {r.randint(6, 12)} 位，包含字母和数字。", lambda r: f"密钥长度为 {r.choice((1024, 2048, 4096))} 位。",
        lambda r: "口令是什么意思？", lambda r: "令牌桶算法怎么实现限流？", lambda r: "Authorization 头应该怎么设置？",
        lambda r: f"max_tokens={r.choice((512, 2048, 4096))} 时输出会被截断吗？",
        lambda r: f"token 数量上限是 {r.randint(1000, 99999)}。",
        lambda r: "```python\ntokens = tokenizer.tokenize(text)\ntoken = tokens[0]\n```",
        lambda r: "```python\ntokenizer.pad_token = tokenizer.eos_token\n```",
        lambda r: f'```json\n{{"token_type": "bearer", "expires_in": {r.randint(600, 86400)}}}\n```',
        lambda r: "API key 和 secret key 有什么区别？", lambda r: f"password: 必填，{r.randint(6, 8)}-20 位",
        lambda r: "```ts\ninterface User { token: string; password: string }\n```",
        lambda r: ("```python\ndef login(username, password):\n    if password == confirm_password:\n"
                   "        return True\n```"),
        lambda r: "密钥：见附件。", lambda r: "令牌：由服务端签发。", lambda r: "口令为空时拒绝登录。",
        lambda r: "```python\npassword_hash = bcrypt.hashpw(password, salt)\n```",
        lambda r: f"password_min_length: {r.randint(6, 12)}",
        lambda r: "Bearer token 放在哪个请求头？", lambda r: f"每个 token 大约对应 {r.randint(1, 3)} 个汉字。",
        lambda r: "secret 管理建议用 Vault。", lambda r: f"special token <|endoftext|> 的 id 是 {r.randint(100, 60000)}。",
        lambda r: "如何保护 API key？", lambda r: "password 字段需要加密存储", lambda r: "把 token 存在 localStorage 安全吗？",
        lambda r: "密码学是一门学科", lambda r: "密钥管理服务 KMS", lambda r: "令牌环网络", lambda r: "设置密码为空",
        lambda r: "password: 请输入密码", lambda r: "token: 用户登录后获得", lambda r: "api_key: 在控制台获取",
        lambda r: "SecretKey 不能泄露", lambda r: f"password 长度 {r.randint(8, 16)}", lambda r: "使用 Bearer Token 鉴权",
        lambda r: "```python\ntoken = request.headers.get('Authorization')\n```",
        lambda r: "```python\nself.password = password\n```",
        lambda r: "```js\nconst token = await getToken();\n```",
        lambda r: "```python\napi_key = config['api_key']\n```",
        lambda r: "密码：请联系管理员获取", lambda r: f"docker run -p {r.randint(1000, 9999)}:80 nginx",
        lambda r: "mkdir -p build",
        lambda r: "用 token cl100k_base 编码", lambda r: "换成 token gpt-4o-mini 试试", lambda r: "token qwen2.5-7b-instruct 的输出",
        lambda r: "密钥：AES-256-GCM", lambda r: "签名 secret: HMAC-SHA256",
    ],
    "key_placeholders": [
        lambda r: "api_key=YOUR_KEY", lambda r: "password=***", lambda r: "token=<your-token>",
        lambda r: "api_key: xxx",
        lambda r: "password=changeme", lambda r: 'secret_key = "${SECRET_KEY}"',
        lambda r: 'api_key = os.environ["API_KEY"]',
        lambda r: 'token = os.getenv("TOKEN")', lambda r: "DB_PASSWORD=", lambda r: "password: ${DB_PASS}",
        lambda r: 'api_key="sk-xxxxxxxx"', lambda r: "token: {{ token }}", lambda r: "set API_KEY=%API_KEY%",
        lambda r: "apiKey: process.env.API_KEY", lambda r: "password = getpass.getpass()",
        lambda r: "api_key=your-api-key-here", lambda r: '"password": ""', lambda r: "Authorization: Bearer <token>",
        lambda r: 'curl -H "Authorization: Bearer $TOKEN" https://api.example.com', lambda r: "密码：******",
        lambda r: "密码：你的密码", lambda r: "令牌：<TOKEN>", lambda r: "secret=REPLACE_ME", lambda r: "api_key: <API_KEY>",
        lambda r: 'password: "{{ vault_password }}"', lambda r: "token=xxxxxxxxxxxxxxxx",
        lambda r: "api_key = settings.MAP_API_KEY", lambda r: "client_secret: ${{ secrets.CLIENT_SECRET }}",
        lambda r: "secret_key='dummy-secret-key'", lambda r: "password=example123",
        lambda r: '```yaml\npassword: ${MYSQL_PASSWORD}\n```',
        lambda r: '```bash\nexport API_KEY="<your api key>"\n```',
    ],
    "other_numbers": [
        lambda r: f"升级到 v{r.randint(1, 20)}.{r.randint(0, 99)}.{r.randint(0, 999)} 后问题解决。",
        lambda r: f"该市常住人口约为 {r.randint(10**9, 2 * 10**9)} 人（含流动人口）。",
        lambda r: f"编号 {bad_check_id(r)} 仅作内部登记。", lambda r: f"流水 {bad_luhn_card(r)} 已入账。",
        lambda r: f"安装 lodash@4.17.{r.randint(1, 21)} 并使用装饰器 @app.route。",
        lambda r: f"```\norder_id = {eleven(r)}\n```",
    ],
}


def lookalikes(seed: int = 11, per_family: int = 120) -> list[tuple[str, str]]:
    """(family, text): `per_family` texts per family, none holding personal data or a secret."""
    rng, rows = random.Random(seed), []
    for family, makes in FAMILIES.items():
        rows += [(family, makes[i % len(makes)](rng)) for i in range(per_family)]
    return rows


def bad_check_id(rng: random.Random) -> str:
    number = id_number(rng)
    wrong = "10X98765432".replace(number[-1].upper(), "")
    return number[:-1] + rng.choice([c for c in wrong if c != "X"])


def bad_luhn_card(rng: random.Random) -> str:
    number = card_number(rng)
    return number[:-1] + str((int(number[-1]) + rng.randint(1, 9)) % 10)
