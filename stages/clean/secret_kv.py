"""Secrets written as a key and a value: the value after a secret-like key becomes `<SECRET>`.

Wherever it stands (prose, code, JSON, YAML, `.env` lines, HTTP headers), a value written after a
secret-like key name is replaced and the name is kept: `api_key=<SECRET>`, `"password": "<SECRET>"`,
`Authorization: Bearer <SECRET>`, `密码：<SECRET>`, `口令是<SECRET>`. Prose about keys
("api_key 写在代码里会被盗用吗") has no value and stays. Modelled on detect-secrets' KeywordDetector
(key names, assignment forms, placeholder values) and gitleaks' generic-api-key rule (entropy for
values without digits); no library fits text that mixes prose and code, so the rule is ours.

- Key (`NAME`, case-insensitive, on the width-folded text): a name ending in api key / apikey,
  secret/access/private/app/auth/client/encryption/master/signing key, secret, token, password,
  passwd, passphrase, pwd, pass (`_pass`, `pass`; not nginx's `proxy_pass`, `fastcgi_pass`, ...),
  requirepass, masterauth, authorization or bearer (so `DB_PASSWORD`, `accessToken`, `client_secret`
  count; `max_tokens`, `token_type`, `password_hash` do not); 密码, 密钥, 秘钥, 口令, 令牌, 私钥, 授权码;
  SQL's `IDENTIFIED BY`; or a command line's `-p` glued to its value (`mysql -uroot -pSecret1`) or
  `-u user:` (`curl -u admin:Secret1`).
- Assignment (`ASSIGN`): `=`, `:`, `:=`, `=>`, `==`, `：`, `＝`, a Python type (`: str =`), 是/为/设为/改为,
  after an optional closing quote or bracket (`"api_key": `, `['password'] = `); or only spaces
  (`access_token eyJ...`, `令牌 tk...`; after a Chinese name, `-p` or `-u user:` not even those),
  which asks more of the value. An HTTP auth scheme after it (`Bearer`, `Basic`, `token`) stays
  with the key.
- Value: a quoted string without spaces, or a run of `[A-Za-z0-9_-.+/=~!@#$%^*]` (a trailing `.` is
  the sentence's). `is_secret_value` decides:
  * never: values that are placeholders (`YOUR_KEY`, `xxx`, `***`, `changeme`, `<your-token>`,
    `${VAR}`, `%VAR%`, `{{ token }}`, `example`, `dummy`, `null`, `string`, ...), an environment
    variable's name (`OPENAI_API_KEY`), an identifier or expression (`settings.api_key`,
    `os.environ[...]`, `getpass()`: a bare value followed by `(`, `[` or `{`), paths, URLs, IP
    addresses and version numbers;
  * passwords (names with pass or pwd, masterauth, IDENTIFIED BY, `-p`, `-u user:`, 密码, 口令): 6+
    characters with a digit (all-digit passwords count), or with a symbol or quoted after an
    assignment;
  * other keys: 8+ characters with letters and digits, not a name made of words and numbers
    (`is_name`: `密钥：AES-256-GCM`, `gpt-4o-mini`); after spaces only, letters and digits must also
    switch 3+ times (`looks_random`: `token cl100k_base` is a name); without digits, 16+ characters
    of Shannon entropy >= 3.5 (random text, as gitleaks asks); all-digit values are sizes and
    counts, not keys;
  * after an auth scheme (`Bearer ...`): 8+ characters.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from stages.clean.pii import FOLD, PLACEHOLDERS, fold

_KEY_PREFIXES = ("api", "secret", "access", "private", "app", "auth", "client", "encryption", "master", "signing")
# Every other English NAME starts with one of these (`[_-]pass`, `-p`, `-u` aside)
_NAME_WORDS = ("secret", "token", "pass", "pwd", "requirepass", "masterauth", "authorization", "bearer",
               "identified by")
_EN_NAMES = (rf"(?:{'|'.join(_KEY_PREFIXES)})[ _-]?key|secret|token"
             r"|password|passwd|passphrase|pwd|(?<!proxy)(?<!fastcgi)(?<!uwsgi)(?<!scgi)(?<!grpc)[_-]pass"
             r"|(?<![A-Za-z])pass|requirepass|masterauth|authorization|bearer")
_ZH_NAMES = "密码|密碼|密钥|密鑰|秘钥|秘鑰|口令|令牌|私钥|私鑰|授权码|授權碼"
NAME = (rf"(?P<name>(?i:{_EN_NAMES}|identified by)(?![A-Za-z0-9_])|{_ZH_NAMES}|(?<=\s)-p(?=[A-Za-z0-9])"
        r"|(?<=\s)-u[ \t]+[^\s:'\"]+:(?=\S))")
ASSIGN = (r"(?P<close>[\"'\]]{0,2})(?:(?P<strong>[ \t]*(?::[ \t]*(?:str|string)[ \t]*)?(?::=|=>|==|[:=：＝])[ \t]*"
          r"|[ \t]*(?:是|为|為|设为|設為|设置为|設置為|改为|改為|改成)[ \t]*[:：]?[ \t]*)"
          rf"|[ \t]+(?!(?i:{_EN_NAMES}))|(?<=[^\x00-\x7f])|(?<=-p)|(?<=:))"
          r"(?P<scheme>(?i:bearer|basic|token)[ \t]+)?")
VALUE = r"(?:(?P<q>[\"'`])(?P<quoted>[^\"'`\s]{1,200})(?P=q)|(?P<bare>[A-Za-z0-9_\-.+/=~!@#$%^*]{1,200}))"
# What a NAME starts with, as a lookahead: the first three characters of a name (case-insensitive, as
# NAME is), `_pass`/`-p...`, `-u `, or a Chinese name's first character. It lets the regex engine give up
# at most positions at once, where trying every NAME branch there costs 7x the time.
_FIRST_THREE = "".join(f"[{''.join(sorted({word[i] for word in _KEY_PREFIXES + _NAME_WORDS}))}]" for i in range(3))
_ZH_FIRST = "".join(sorted({name[0] for name in _ZH_NAMES.split("|")}))
NAME_START = rf"(?=(?i:{_FIRST_THREE})|[_\-](?i:p)[A-Za-z0-9]|-u[ \t]|[{_ZH_FIRST}])"
SECRET_KV = re.compile(NAME_START + NAME + ASSIGN + VALUE)
_WORDS_HINT = (rf"(?i:key|secret|token|pass|pwd|masterauth|authorization|bearer|identified by)|{_ZH_NAMES}"
               r"|\s-p[A-Za-z0-9]|\s-u[ \t]")


def _unfolded(chars: str) -> str:
    """A Rust regex class for any of `chars` before folding: each, or what FOLD turns into it (`i` also as
    `İ` and `ı`, which Python's `(?i)` matches and Rust's does not)."""
    found = set(chars) | {chr(code) for code, folded in FOLD.items() if folded in chars}
    found |= {"İ", "ı"} if "i" in chars else set()
    return "[" + "".join("\\" + c if c in "-\\[]^" else c for c in sorted(found)) + "]"


def _unfolded_word(word: str) -> str:
    return "".join(_unfolded(char) for char in word)


# Where NAME can match (a superset: no look-around) on the text before folding: a sharper hint, read only
# in the texts the first one selects (most of which hold `key` in some other word).
_NAMES_HINT = ("(?i:(?:" + "|".join(map(_unfolded_word, _KEY_PREFIXES))
               + f"){_unfolded(' _-')}?{_unfolded_word('key')}|" + "|".join(map(_unfolded_word, _NAME_WORDS))
               + rf")|{_ZH_NAMES}|[\s\x1c-\x1f]{_unfolded('-')}[pｐuｕ]")
SECRET_KV_HINT = (_WORDS_HINT, _NAMES_HINT)  # the texts a value can be scrubbed in: both hold

_PASSWORD = re.compile(r"(?i)pass|pwd|masterauth|identified|^-[pu]|密码|密碼|口令")
_PLACEHOLDER = re.compile(r"(?i)your|xxx|example|placeholder|change_?me|dummy|fake|sample|redacted|replace|here"
                          r"|todo|insert|foobar|\*\*|\.\.\.|<|>")
_NOT_VALUES = frozenset({"none", "null", "nil", "true", "false", "undefined", "string", "str", "int", "number", "bool",
                         "boolean", "any", "object", "required", "optional", "empty", "value", "default", "hidden",
                         "masked", "secret", "password", "passwd", "token", "apikey", "api_key", "key", "test",
                         "testing", "demo"})
_IDENTIFIER = re.compile(r"[a-z_.]+")  # a name without digits
_WORDS = re.compile(r"[a-z]+(?:[_.][a-z]+)+|[a-z]+(?:[A-Z][a-z]+)+")  # snake_case, dotted or camelCase names
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_ADDRESS = re.compile(r"[0-9]+(?:\.[0-9]+){2,}(?::[0-9]+)?")  # an IP address or a version number
_SYMBOL = re.compile(r"[^A-Za-z0-9]")


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    return -sum(n / len(value) * math.log2(n / len(value)) for n in Counter(value).values())


def is_placeholder(value: str) -> bool:
    """An empty-looking or stand-in value, or a name of where the secret is kept."""
    lower = value.lower()
    return (len(set(lower)) <= 2 or lower in _NOT_VALUES or bool(_PLACEHOLDER.search(lower))
            or lower[0] in "$%{[(<&*" or "://" in lower or lower.startswith(("/", "./", "../", "~/"))
            or bool(_IDENTIFIER.fullmatch(lower) and re.search(r"key|token|secret|pass|pwd", lower))
            or bool(_WORDS.fullmatch(value) or _ENV_NAME.fullmatch(value) or _ADDRESS.fullmatch(value)))


def is_secret_value(value: str, name: str, quoted: bool, weak: bool, scheme: bool) -> bool:
    """The rules of the module docstring for one value after key `name` (weak: spaces only before it)."""
    if is_placeholder(value):
        return False
    if scheme:
        return len(value) >= 8
    digits, letters = any(c.isdigit() for c in value), any(c.isalpha() for c in value)
    if _PASSWORD.search(name):
        return len(value) >= 6 and (digits or (not weak and (quoted or bool(_SYMBOL.search(value)))))
    if digits and letters:
        return len(value) >= 8 and not is_name(value) and (not weak or looks_random(value))
    return not digits and len(value) >= 16 and entropy(value) >= 3.5


def _switches(word: str) -> int:
    kinds = [c.isdigit() for c in word if c.isalnum()]
    return sum(a != b for a, b in zip(kinds, kinds[1:]))


def is_name(value: str) -> bool:
    """Words and numbers joined by `-`, `_` or `.`, none mixing letters and digits more than once:
    `AES-256-GCM`, `HMAC-SHA256`, `gpt-4o-mini`, `v2.10.33` (not `ak_7f3e9c2b1d`)."""
    parts = [p for p in re.split(r"[-_.]", value) if p]
    return len(parts) >= 2 and all(p.isalnum() and _switches(p) <= 1 for p in parts)


def looks_random(value: str) -> bool:
    """Letters and digits interleaved, 3+ switches: `ak7f3e9c`, a JWT or a hex key, not `cl100k_base`,
    `gpt-4o-mini` or `qwen2.5-7b-instruct`."""
    return _switches(value) >= 3


def _value_span(folded: str, match: re.Match[str]) -> tuple[int, int] | None:
    """Where the secret value of a candidate lies, or None where it is not one."""
    quoted = match.group("quoted") is not None
    group = "quoted" if quoted else "bare"
    start, end = match.span(group)
    value = match.group(group)
    if not quoted:
        value = value.rstrip(".")
        end = start + len(value)
        if not value or folded[match.end(group):match.end(group) + 1] in ("(", "[", "{"):
            return None
    weak = match.group("strong") is None
    if not is_secret_value(value, match.group("name"), quoted, weak, match.group("scheme") is not None):
        return None
    return start, end


def scrub_secret_values(text: str) -> str:
    """Each secret value after a secret-like key becomes `<SECRET>`; keys, quotes and the rest stay."""
    folded = fold(text)
    parts, last = [], 0
    for match in SECRET_KV.finditer(folded):
        span = _value_span(folded, match)
        if span is not None:
            parts += [text[last:span[0]], PLACEHOLDERS["secret_kv"]]
            last = span[1]
    return "".join(parts) + text[last:] if parts else text
