"""PII scrubbing: personal data and secrets become typed placeholders.

Detection runs on a width-folded view of each text (`FOLD`: full-width digits
and letters, `＠`, `．`, `－`, `（）`, `＋`, `＿` and the ideographic space read as
their ASCII forms, one character for one, so offsets agree), and the match is
replaced in the original. So `１３８１２３４５６７８` or `zhang＠example.com` is
caught here, before `normalize` folds widths.

Where each rule looks (see `stages.clean.texts.scrub_pii`):
- in prose, LaTeX and URLs (`scrub_contacts`, one Python pass):
  `<PHONE>` mainland mobile numbers (1[3-9] + 9 digits; with +86, (+86), 0086
  or 86; grouped 3-4-4 by `-`, ` - `, space or `.`, or 3-8 by space or `-`) and
  landlines with a bracketed or dashed area code (`010-12345678`,
  `(0755)1234567`); `<ID_CARD>` 18-character resident ID numbers, also grouped
  6-8-4, with a plausible birth date and a valid ISO 7064 MOD 11-2 check
  character; `<BANK_CARD>` 16-19 digit card numbers (optionally grouped by 4)
  with a card-network prefix (UnionPay 62, Visa 4, Mastercard 51-55/2221-2720,
  JCB 35, Discover 6011/65) and a valid Luhn checksum; `<EMAIL>`. The checksums
  keep ordinary long numbers intact; the words around a mobile-shaped number
  decide whether it is a phone or an amount, an order number or a number in a
  maths question (`stages.clean.pii_context`, in a fixed order: e.g. a
  country code or 电话/手机 make it a phone, 元/万/¥/总价/预算 an amount,
  订单号/运单号 an order number, 除以/余数/各位数字 arithmetic), and an order
  cue keeps a card-shaped number.
- everywhere, code included: `<EMAIL>`; `<SECRET_URL>` for a whole URL that
  carries a credential (a query parameter such as token, access_token,
  api_key, key, secret, password, signature, session; or user:password@host);
  `<SECRET_KEY>` for well-known API key shapes (sk-..., AKIA..., ghp_...,
  xoxb-..., AIza...); `<SECRET>` for the value written after a secret-like key
  (`api_key=...`, `"password": "..."`, `Authorization: Bearer ...`, `密码：...`,
  `口令是...`; the key stays, placeholder values such as `YOUR_KEY` or `${VAR}`
  stay too: `stages.clean.secret_kv`); and `<PHONE>` for a mobile number
  assigned to a phone-named key in code (`"phone": "18672858778"`,
  `mobile=...`); other numbers in code are data.
Numbers are matched on digit/Latin boundaries, so a digit run glued to Latin
letters or other digits is not a phone number, while one next to Chinese text is.
`contact_counts` counts what `scrub_contacts` would replace, with the same
decisions; `stages.validate.derived` uses it for its `pii_*` columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import polars as pl

from stages.clean import pii_context

PLACEHOLDERS = {
    "phone": "<PHONE>",
    "email": "<EMAIL>",
    "id_card": "<ID_CARD>",
    "bank_card": "<BANK_CARD>",
    "secret_url": "<SECRET_URL>",
    "secret_key": "<SECRET_KEY>",
    "secret_kv": "<SECRET>",
}

_B = r"(?-u:\b)"
CODE_PHONE = (r"(?i)((?:phone|mobile|tel|telephone|cellphone|手机|电话)[\w-]*[\"']?\s*[:=]\s*[\"']?(?:\+?86[- ]?)?)"
              r"1[3-9][0-9](?:[- ]?[0-9]{4}){2}" + _B)

EMAIL = (
    rf"{_B}[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    rf"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{{2,24}}{_B}"
)
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#@!$&*+,;=%]"
_SECRET_PARAMS = (
    r"access_token|refresh_token|id_token|auth_token|token|api_key|apikey|api-key|key|secret|client_secret"
    r"|password|passwd|pwd|sig|signature|x-amz-signature|x-amz-credential|session|sessionid|auth"
)
SECRET_URL = (
    rf"https?://(?:{_URL_CHARS}*?[?&#;](?i:{_SECRET_PARAMS})=[^&\s\"'<>`]+"
    rf"|[^/\s:@]+:[^/\s@]+@){_URL_CHARS}*"
)
KEY_SHAPES = (
    rf"{_B}(?:sk-(?:proj-)?[A-Za-z0-9_-]{{20,}}|AKIA[0-9A-Z]{{16}}|gh[pousr]_[A-Za-z0-9]{{36,}}"
    rf"|github_pat_[A-Za-z0-9_]{{22,}}|xox[abprs]-[A-Za-z0-9-]{{10,}}|AIza[0-9A-Za-z_-]{{35}}){_B}"
)
# Literal-ish pre-filters: a text that matches none of a rule's hint cannot match the rule.
_D = "[0-9０-９]"
CONTACT_HINT = rf"{_D}{{7}}|{_D}{{3}}[ 　]?[- .－．　][ 　]?{_D}{{4}}|{_D}{{4}}[ -]{_D}{{4}}|[@＠]"
EMAIL_HINT = "@"
CODE_PHONE_HINT = r"(?i)phone|mobile|tel|手机|电话"
SECRET_URL_HINT = "://"
SECRET_KEY_HINT = r"sk-|AKIA|gh[pousr]_|github_pat_|xox[abprs]-|AIza"

FOLD = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)},
                      **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
                      **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
                      "＠": "@", "．": ".", "－": "-", "（": "(", "）": ")", "＋": "+", "　": " ", "＿": "_"})
_FOLDABLE = re.compile("[" + "".join(re.escape(chr(code)) for code in FOLD) + "]")


def fold(text: str) -> str:
    """`text` with FOLD applied (a quick scan first: most texts have nothing to fold, and translating
    costs 15x the scan)."""
    return text.translate(FOLD) if _FOLDABLE.search(text) else text


_EDGE_L, _EDGE_R = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
# Every match starts at `(` or `+`, or at a digit, or at a letter of an e-mail's local part, none of them
# glued to a letter or digit before it: as a lookahead this lets the regex engine give up at most positions
# at once (4x faster on the texts the hint selects; the same matches).
_CONTACT_START = r"(?:(?=[(+])|(?<![0-9A-Za-z])(?=[0-9]|[A-Za-z][A-Za-z0-9._%+-]*@))"
_CONTACT = re.compile(
    rf"{_CONTACT_START}(?:(?P<email>{_EDGE_L}[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    rf"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{{2,24}}{_EDGE_R})"
    rf"|(?P<number>{_EDGE_L}(?:[0-9]{{17}}[0-9Xx]|[1-9][0-9]{{5}}[ -][0-9]{{8}}[ -][0-9]{{3}}[0-9Xx]"
    rf"|[0-9]{{4}}(?:[ -]?[0-9]{{4}}){{3}}(?:[ -]?[0-9]{{1,3}})?){_EDGE_R})"
    rf"|(?P<mobile>(?:(?P<cc>\(\+?86\) ?|\+86[- .]?|{_EDGE_L}0086[- ]?)|{_EDGE_L}(?P<glued>86[- ]?)?)"
    rf"1[3-9][0-9](?:(?P<sep> ?[-.] ?| ?)[0-9]{{4}}(?P=sep)[0-9]{{4}}|(?P<split>[- ])[0-9]{{8}}){_EDGE_R})"
    rf"|(?P<landline>(?:\(0[0-9]{{2,3}}\) ?|{_EDGE_L}0[0-9]{{2,3}}-)[0-9]{{7,8}}{_EDGE_R}))"
)
_URL_USERINFO = re.compile(r"://[^\s/@]*$")
_ID_CARD = re.compile(r"[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_CARD_PREFIX = re.compile(r"62|4|5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720|35|6011|65")


def id_card_valid(number: str) -> bool:
    """18-character resident ID: date-shaped, and the check character matches."""
    if not _ID_CARD.fullmatch(number):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def bank_card_valid(number: str) -> bool:
    """16-19 digits, a card-network prefix and a valid Luhn checksum; not an ID-shaped number (18 digits
    with a birth date where an ID number has it, and a failed ID check: a mistyped ID or an order number)."""
    digits = re.sub(r"[ -]", "", number)
    if len(digits) == 18 and _ID_CARD.fullmatch(digits):
        return False
    return 16 <= len(digits) <= 19 and digits.isdigit() and bool(_CARD_PREFIX.match(digits)) and luhn_valid(digits)


def _is_phone(folded: str, match: re.Match[str]) -> bool:
    before, after = pii_context.context(folded, match.start(), match.end())
    return pii_context.is_phone(before, after, bool(match.group("cc")),
                                bool(match.group("sep") or match.group("split") or match.group("glued")))


def _placeholder(folded: str, match: re.Match[str]) -> str | None:
    """The placeholder for one candidate, or None where it is not personal data (checksum, context)."""
    if match.group("email"):  # user:password@host inside a URL is left to the secret-URL rule
        in_url = _URL_USERINFO.search(folded, max(0, match.start() - 200), match.start())
        return None if in_url else PLACEHOLDERS["email"]
    if match.group("number"):
        digits = re.sub(r"[ -]", "", match.group())
        if id_card_valid(digits):
            return PLACEHOLDERS["id_card"]
        if not bank_card_valid(digits):
            return None
        return None if pii_context.is_order_number(pii_context.context(folded, match.start(), match.end())[0]) \
            else PLACEHOLDERS["bank_card"]
    if match.group("mobile"):
        return PLACEHOLDERS["phone"] if _is_phone(folded, match) else None
    return PLACEHOLDERS["phone"]  # a landline with its area code


def _contacts(folded: str) -> Iterator[tuple[re.Match[str], str]]:
    for match in _CONTACT.finditer(folded):
        placeholder = _placeholder(folded, match)
        if placeholder is not None:
            yield match, placeholder


def scrub_contacts(text: str) -> str:
    """Phones, ID and bank card numbers and e-mail addresses, found on the width-folded text."""
    parts, last = [], 0
    for match, placeholder in _contacts(fold(text)):
        parts += [text[last:match.start()], placeholder]
        last = match.end()
    return "".join(parts) + text[last:] if parts else text


CONTACT_KINDS = ("phone", "email", "id_card", "bank_card")
_KIND_OF = {PLACEHOLDERS[kind]: kind for kind in CONTACT_KINDS}


def count_contacts(text: str) -> dict[str, int]:
    """What `scrub_contacts` would replace in `text`, per kind."""
    counts = dict.fromkeys(CONTACT_KINDS, 0)
    for _, placeholder in _contacts(fold(text)):
        counts[_KIND_OF[placeholder]] += 1
    return counts


def contact_counts(texts: pl.Series) -> pl.DataFrame:
    """`count_contacts` for each string (nulls count 0): one UInt32 column per kind.

    Only strings that match `CONTACT_HINT` are read in Python; the others cannot hold a contact.
    """
    rows = texts.str.contains(CONTACT_HINT).fill_null(False).arg_true()
    found = [count_contacts(text) for text in texts.gather(rows).to_list()]
    columns = []
    for kind in CONTACT_KINDS:
        column = pl.Series(kind, [0] * texts.len(), dtype=pl.UInt32)
        columns.append(column.scatter(rows, [c[kind] for c in found]) if found else column)
    return pl.DataFrame(columns)


def scrub_code_phones(text: pl.Expr) -> pl.Expr:
    """A mobile number assigned to a phone-named key, in code too (`"phone": "18672858778"`)."""
    return text.str.replace_all(CODE_PHONE, "${1}" + PLACEHOLDERS["phone"])


def scrub_emails(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(EMAIL, PLACEHOLDERS["email"])


def scrub_secret_urls(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(SECRET_URL, PLACEHOLDERS["secret_url"])


def scrub_secret_keys(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(KEY_SHAPES, PLACEHOLDERS["secret_key"])
