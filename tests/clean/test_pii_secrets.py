"""Secret values after a secret-like key become `<SECRET>` (tag `pii:secret_kv`) in prose, code, JSON, YAML and .env
lines; the key stays, prose about keys stays, and placeholder values are neither scrubbed nor counted."""

import json
import re

import polars as pl
import pytest

from stages.clean import secret_kv
from stages.clean.pii import fold
from stages.clean.secret_kv import entropy, is_name, is_secret_value, looks_random
from stages.clean.steps import hinted_rows
from tests.clean.fixtures import PROSE, clean_many, clean_one, clean_params, frame, row
from tests.test_clean import run_cli

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVP"


@pytest.mark.parametrize("text, expected", [
    ("打开开发者工具能看到完整地址，包括 api_key=ak_7f3e9c2b1d 这一段。", "打开开发者工具能看到完整地址，包括 api_key=<SECRET> 这一段。"),
    ("把 apikey: 9f8e7d6c5b4a3210 填进配置", "把 apikey: <SECRET> 填进配置"),
    ("请求头带上 access_token q7Wz3kLm9Xv2Rt8 即可", "请求头带上 access_token <SECRET> 即可"),
    ('```python\nsecret_key = "s3cr3t-K3y-9x8y"\n```', '```python\nsecret_key = "<SECRET>"\n```'),
    ("登录用 password=hunter22，别外传", "登录用 password=<SECRET>，别外传"),
    ("```yaml\ndb:\n  passwd: P@ssw0rd!\n```", "```yaml\ndb:\n  passwd: <SECRET>\n```"),
    ("接口参数 token=tk_9f8e7d6c5b", "接口参数 token=<SECRET>"),
    (f'curl -H "Authorization: Bearer {JWT}" https://api.example.com/me',
     'curl -H "Authorization: Bearer <SECRET>" https://api.example.com/me'),
    ('{"api_key": "ak123abc456def", "region": "cn-north-1"}', '{"api_key": "<SECRET>", "region": "cn-north-1"}'),
    ("```\nMAP_API_KEY=k9f8e7d6c5b4a3\nDEBUG=false\n```", "```\nMAP_API_KEY=<SECRET>\nDEBUG=false\n```"),
    ("账号 admin，密码：Abc123456。", "账号 admin，密码：<SECRET>。"),
    ("密钥：k9f8e7d6c5b4a3，请妥善保管", "密钥：<SECRET>，请妥善保管"),
    ("口令是open2024，进门要说", "口令是<SECRET>，进门要说"),
    ("令牌 tk9f8e7d6c5b 已下发", "令牌 <SECRET> 已下发"),
    ("默认密码是 12345678，登录后修改", "默认密码是 <SECRET>，登录后修改"),
    ("密码：Ａｂｃ１２３４５６", "密码：<SECRET>"),
    ('API_TOKEN: str = "q7Wz3kLm9Xv2Rt8"', 'API_TOKEN: str = "<SECRET>"'),
    ("mysql -uroot -pRoot2024x -h 127.0.0.1", "mysql -uroot -p<SECRET> -h 127.0.0.1"),
    ("ALTER USER 'root'@'localhost' IDENTIFIED BY 'Qw3rty!88';", "ALTER USER 'root'@'localhost' IDENTIFIED BY '<SECRET>';"),
    ("curl -u admin:S3cretPw9 https://api.example.com", "curl -u admin:<SECRET> https://api.example.com"),
    ("AccessKey ID: LTAI5t，AccessKey Secret: q7Wz3kLm9Xv2Rt8", "AccessKey ID: LTAI5t，AccessKey Secret: <SECRET>"),
])
def test_a_value_after_a_secret_like_key_is_scrubbed_and_the_key_kept(text, expected):
    assert clean_one(text) == (expected, ["pii:secret_kv"])


@pytest.mark.parametrize("text", [
    "前端直接调用地图服务，api_key 写在代码里会被别人盗用吗？",
    "access_token 过期了怎么办？",
    "密码：至少 8 位，包含字母和数字。",
    "密钥长度为 2048 位，令牌桶算法用来限流。",
    "max_tokens=4096 时输出会被截断吗？token 数量上限是 50256。",
    "```python\ntokenizer.pad_token = tokenizer.eos_token\ntokens = tokenizer.tokenize(text)\n```",
    '```json\n{"token_type": "bearer", "expires_in": 7200}\n```',
    "```python\npassword_hash = bcrypt.hashpw(password, salt)\n```",
    "docker run -p 8080:80 nginx && mkdir -p build",
    "用 token cl100k_base 编码，换成 token gpt-4o-mini 试试",
    "密钥：AES-256-GCM，签名 secret: HMAC-SHA256",
    "ALTER USER 'root'@'localhost' IDENTIFIED BY 'password'; curl -u admin:$PASSWORD https://api.example.com",
    "```nginx\nlocation / {\n    fastcgi_pass 127.0.0.1:9000;\n    proxy_pass http://backend;\n}\n```",
])
def test_prose_and_code_about_keys_stay(text):
    assert clean_one(text) == (text, [])


@pytest.mark.parametrize("text", [
    "api_key=YOUR_KEY", "password=***", "token=<your-token>", "api_key: xxx", "password=changeme",
    'secret_key = "${SECRET_KEY}"', 'api_key = os.environ["API_KEY"]', 'token = os.getenv("TOKEN")', "DB_PASSWORD=",
    "password: ${DB_PASS}", "token: {{ token }}", "set API_KEY=%API_KEY%", "apiKey: process.env.API_KEY",
    "password = getpass.getpass()", "api_key=your-api-key-here", '"password": ""', "Authorization: Bearer <token>",
    'curl -H "Authorization: Bearer $TOKEN"', "密码：******", "密码：你的密码", "api_key = settings.MAP_API_KEY",
    "secret_key='dummy-secret-key'", "password = \"abc\"",
])
def test_empty_and_placeholder_values_are_left_alone_and_not_counted(text):
    out, tags, counts = clean_many([text])
    assert (out, tags, counts["secret_kv"]) == ([text], [[]], 0)


def test_a_vendor_key_shape_stays_a_secret_key_and_is_not_counted_twice():
    text = "openai_api_key = 'sk-abcdefghijklmnopqrstuvwxyz012345'，另外 token=tk_9f8e7d6c5b"
    out, tags, counts = clean_many([text])
    assert out == ["openai_api_key = '<SECRET_KEY>'，另外 token=<SECRET>"]
    assert tags == [["pii:secret_key", "pii:secret_kv"]]
    assert (counts["secret_key"], counts["secret_kv"]) == (1, 1)


def test_value_rules():
    assert is_secret_value("123456", "密码", quoted=False, weak=True, scheme=False)  # all-digit passwords count
    assert not is_secret_value("50256", "token", quoted=False, weak=True, scheme=False)  # a count, not a key
    assert not is_secret_value("expires", "token", quoted=False, weak=True, scheme=False)
    assert not is_secret_value("unbelievable", "token", quoted=True, weak=False, scheme=False)  # a word: low entropy
    assert is_secret_value("QmFzZTY0RW5jb2RlZFNlY3JldA", "secret", quoted=False, weak=False, scheme=False)
    assert entropy("aaaa") == 0.0 and entropy("abcd") == 2.0
    assert looks_random("ak7f3e9c") and not looks_random("cl100k_base") and not looks_random("qwen2.5-7b")
    assert is_name("AES-256-GCM") and is_name("gpt-4o-mini") and not is_name("ak_7f3e9c2b1d") and not is_name("abc123")


def test_clean_counts_secret_values_in_metrics_and_tags_the_record(tmp_path):
    raw = tmp_path / "raw"
    (raw / "cqia_segmentfault").mkdir(parents=True)
    frame(row("1", "api_key 写在代码里会被别人盗用吗？", output=PROSE + "包括 api_key=ak_7f3e9c2b1d 这一段。",
              source="segmentfault")).write_parquet(raw / "cqia_segmentfault" / "records.parquet")
    params = clean_params()
    params["by_source"] = {}
    result = run_cli(tmp_path, raw, params)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "clean.json").read_text())
    assert metrics["pii"]["secret_kv"] == 1 and metrics["transforms"]["pii:secret_kv"] == 1
    kept = pl.read_parquet(tmp_path / "clean" / "records.parquet").row(0, named=True)
    assert kept["output"] == PROSE + "包括 api_key=<SECRET> 这一段。"
    assert kept["instruction"] == "api_key 写在代码里会被别人盗用吗？" and kept["transforms"] == ["pii:secret_kv"]


def written_texts() -> list[str]:
    """The planted PII corpus and its look-alikes, each also in full-width characters, and texts that only
    fold into a secret-like key (`ａｐｉ＿ｋｅｙ`, a dotless ı, an ideographic space before `－ｐ`)."""
    from bench.pii_corpus import planted
    from bench.pii_lookalikes import lookalikes

    texts = [text for _, _, text, _ in planted()] + [text for _, text in lookalikes()]
    wide = str.maketrans({chr(code): chr(code + 0xFEE0) for code in range(0x21, 0x7F)})
    texts += [text.translate(wide) for text in texts]
    return texts + ["ａｐｉ＿ｋｅｙ＝sk12345678abcdefgh, key", "apİ_key = 'abc123def456' key",
                    "ıdentified by 'pw123456'", "mysql　－ｐSecret123 key", "curl －ｕ admin:Secret1 key", "ſecret_key=abcdef1234567890 key"]


def test_the_sharper_hint_never_skips_a_text_the_scrub_changes():
    texts = written_texts()
    column = pl.Series("text", texts)
    words = set(hinted_rows(column, secret_kv._WORDS_HINT).to_list())
    both = set(hinted_rows(column, secret_kv.SECRET_KV_HINT).to_list())
    changed = {i for i in words if secret_kv.scrub_secret_values(texts[i]) != texts[i]}
    assert len(changed) > 300 and changed <= both
    other_words = pl.Series("text", ["keyboard shortcuts", "the monkey and the key", "按 Enter key 确认"])
    assert hinted_rows(other_words, secret_kv._WORDS_HINT).len() == 3
    assert hinted_rows(other_words, secret_kv.SECRET_KV_HINT).len() == 0


def test_the_name_start_lookahead_finds_the_same_matches():
    plain = re.compile(secret_kv.NAME + secret_kv.ASSIGN + secret_kv.VALUE)
    for text in written_texts():
        folded = fold(text)
        assert [m.span() for m in secret_kv.SECRET_KV.finditer(folded)] == [m.span() for m in plain.finditer(folded)]
