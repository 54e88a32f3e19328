"""PII scrubbing: personal data and secrets become typed placeholders.

Detection runs on a width-folded view of each text (`FOLD`: full-width digits
and letters, `＠`, `．`, `－`, `（）`, `＋` and the ideographic space read as
their ASCII forms, one character for one, so offsets agree), and the match is
replaced in the original. So `１３８１２３４５６７８` or `zhang＠example.com` is
caught here, before `normalize` folds widths.

Where each rule looks (see `stages.cleaning.texts.scrub_pii`):
- in prose, LaTeX and URLs (`scrub_contacts`, one Python pass):
  `<PHONE>` mainland mobile numbers (1[3-9] + 9 digits, optional +86, grouped
  3-4-4 by `-`, space or `.`) and landlines with a bracketed or dashed area code
  (`010-12345678`, `(0755)1234567`); `<ID_CARD>` 18-character resident ID
  numbers, also grouped 6-8-4, with a plausible birth date and a valid ISO 7064
  MOD 11-2 check character; `<BANK_CARD>` 16-19 digit card numbers (optionally
  grouped by 4) with a card-network prefix (UnionPay 62, Visa 4, Mastercard
  51-55/2221-2720, JCB 35, Discover 6011/65) and a valid Luhn checksum;
  `<EMAIL>`. The checksums keep ordinary long numbers (order, tracking, ticket
  numbers) intact. An 11-digit mobile-shaped number written without separators
  is a phone unless it stands in arithmetic or a question about numbers
  (`MATH_CONTEXT` within a few characters: 除以, 余数, 求, ×, =, ...); a phone cue
  (`PHONE_CUE`: 电话, 手机, 联系, tel, ...) just before it wins over that.
- everywhere, code included: `<EMAIL>`; `<SECRET_URL>` for a whole URL that
  carries a credential (a query parameter such as token, access_token,
  api_key, key, secret, password, signature, session; or user:password@host);
  `<SECRET_KEY>` for well-known API key shapes (sk-..., AKIA..., ghp_...,
  xoxb-..., AIza...) and for the quoted value of an assignment to a
  key/secret/token/password name (`api_key = "..."`, 8+ characters); and
  `<PHONE>` for a mobile number assigned to a phone-named key in code
  (`"phone": "18672858778"`, `mobile=...`); other numbers in code are data.
Numbers are matched on digit/Latin boundaries, so a digit run glued to Latin
letters or other digits is not a phone number, while one next to Chinese text is.
"""

from __future__ import annotations

import re

import polars as pl

PLACEHOLDERS = {
    "phone": "<PHONE>",
    "email": "<EMAIL>",
    "id_card": "<ID_CARD>",
    "bank_card": "<BANK_CARD>",
    "secret_url": "<SECRET_URL>",
    "secret_key": "<SECRET_KEY>",
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
KEY_ASSIGNMENT = (
    r"(?i)((?:api[_-]?key|secret[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token|secret|password|passwd)"
    r"[\"']?\s*[:=]\s*[\"'])[^\"'\s<>]{8,}([\"'])"
)

# Literal-ish pre-filters: a text that matches none of a rule's hint cannot match the rule.
_D = "[0-9０-９]"
CONTACT_HINT = rf"{_D}{{7}}|{_D}{{3}}[- .－．　]{_D}{{4}}|{_D}{{4}}[ -]{_D}{{4}}|[@＠]"
EMAIL_HINT = "@"
CODE_PHONE_HINT = r"(?i)phone|mobile|tel|手机|电话"
SECRET_URL_HINT = "://"
SECRET_KEY_HINT = r"sk-|AKIA|gh[pousr]_|github_pat_|xox[abprs]-|AIza|(?i:key|secret|token|passw)"

FOLD = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)},
                      **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
                      **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
                      "＠": "@", "．": ".", "－": "-", "（": "(", "）": ")", "＋": "+", "　": " ", "＿": "_"})
_EDGE_L, _EDGE_R = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
_CONTACT = re.compile(
    rf"(?P<email>{_EDGE_L}[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    rf"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{{2,24}}{_EDGE_R})"
    rf"|(?P<number>{_EDGE_L}(?:[0-9]{{17}}[0-9Xx]|[1-9][0-9]{{5}}[ -][0-9]{{8}}[ -][0-9]{{3}}[0-9Xx]"
    rf"|[0-9]{{4}}(?:[ -]?[0-9]{{4}}){{3}}(?:[ -]?[0-9]{{1,3}})?){_EDGE_R})"
    rf"|(?P<mobile>(?:\+86[- ]?|{_EDGE_L}(?:86[- ]?)?)1[3-9][0-9](?P<sep>[- .]?)[0-9]{{4}}(?P=sep)[0-9]{{4}}{_EDGE_R})"
    rf"|(?P<landline>(?:\(0[0-9]{{2,3}}\) ?|{_EDGE_L}0[0-9]{{2,3}}-)[0-9]{{7,8}}{_EDGE_R})"
)
_URL_USERINFO = re.compile(r"://[^\s/@]*$")
PHONE_CUE = re.compile(r"(?i)(?:电话|手机|联系|致电|拨打|热线|号码|微信|tel|phone|mobile|call)[^0-9]{0,6}$")
MATH_BEFORE = re.compile(r"(?:求|计算|已知|若|设|[+\-*/×÷=＝<>≤≥^]|除以|乘以|加上|减去|等于|的平方|的立方)\s*$")
MATH_AFTER = re.compile(r"^\s*(?:[+\-*/×÷=＝<>≤≥^%]|除以|乘以|乘|加上|加|减去|减|的余数|的各位|的因数|的约数|是质数"
                        r"|是合数|是奇数|是偶数|能否被|能被|的平方|的立方|有多少|等于)")
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
    """A mobile-shaped number is a phone unless it is bare and stands in arithmetic (a phone cue wins)."""
    before, after = folded[max(0, match.start() - 12):match.start()], folded[match.end():match.end() + 8]
    if match.group("sep") or match.group().startswith(("+", "86")) or PHONE_CUE.search(before):
        return True
    return not (MATH_BEFORE.search(before) or MATH_AFTER.search(after))


def _placeholder(folded: str, match: re.Match[str]) -> str | None:
    """The placeholder for one candidate, or None where it is not personal data (checksum, context)."""
    if match.group("email"):  # user:password@host inside a URL is left to the secret-URL rule
        return None if _URL_USERINFO.search(folded, max(0, match.start() - 200), match.start()) else PLACEHOLDERS["email"]
    if match.group("number"):
        digits = re.sub(r"[ -]", "", match.group())
        if id_card_valid(digits):
            return PLACEHOLDERS["id_card"]
        return PLACEHOLDERS["bank_card"] if bank_card_valid(digits) else None
    if match.group("mobile"):
        return PLACEHOLDERS["phone"] if _is_phone(folded, match) else None
    return PLACEHOLDERS["phone"]  # a landline with its area code


def scrub_contacts(text: str) -> str:
    """Phones, ID and bank card numbers and e-mail addresses, found on the width-folded text."""
    folded = text.translate(FOLD)
    parts, last = [], 0
    for match in _CONTACT.finditer(folded):
        placeholder = _placeholder(folded, match)
        if placeholder is not None:
            parts += [text[last:match.start()], placeholder]
            last = match.end()
    return "".join(parts) + text[last:] if parts else text


def scrub_code_phones(text: pl.Expr) -> pl.Expr:
    """A mobile number assigned to a phone-named key, in code too (`"phone": "18672858778"`)."""
    return text.str.replace_all(CODE_PHONE, "${1}" + PLACEHOLDERS["phone"])


def scrub_emails(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(EMAIL, PLACEHOLDERS["email"])


def scrub_secret_urls(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(SECRET_URL, PLACEHOLDERS["secret_url"])


def scrub_secret_keys(text: pl.Expr) -> pl.Expr:
    text = text.str.replace_all(KEY_SHAPES, PLACEHOLDERS["secret_key"])
    return text.str.replace_all(KEY_ASSIGNMENT, "${1}" + PLACEHOLDERS["secret_key"] + "${2}")
