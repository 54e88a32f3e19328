"""PII scrubbing: personal data and secrets become typed placeholders.

Where each rule looks (see `stages.clean.scrub_pii`):
- in prose, LaTeX and URLs (not in code, where long digit strings are data):
  `<PHONE>` mainland mobile numbers (1[3-9] + 9 digits, optional +86 and
  3-4-4 grouping) and landlines with a bracketed or dashed area code
  (`010-12345678`, `(0755)1234567`); `<ID_CARD>` 18-character resident ID
  numbers with a plausible birth date and a valid ISO 7064 MOD 11-2 check
  character; `<BANK_CARD>` 16-19 digit card numbers (optionally grouped by 4)
  with a card-network prefix (UnionPay 62, Visa 4, Mastercard 51-55/2221-2720,
  JCB 35, Discover 6011/65) and a valid Luhn checksum. The checksums keep
  ordinary long numbers (order, tracking, ticket numbers) intact.
- everywhere, code included: `<EMAIL>`; `<SECRET_URL>` for a whole URL that
  carries a credential (a query parameter such as token, access_token,
  api_key, key, secret, password, signature, session; or user:password@host);
  `<SECRET_KEY>` for well-known API key shapes (sk-..., AKIA..., ghp_...,
  xoxb-..., AIza...) and for the quoted value of an assignment to a
  key/secret/token/password name (`api_key = "..."`, 8+ characters).
Numbers are matched on ASCII word boundaries, so a digit run glued to Latin
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
MOBILE = rf"(?:\+86[- ]?|{_B}(?:86[- ]?)?)1[3-9][0-9](?:[- ]?[0-9]{{4}}){{2}}{_B}"
LANDLINE = rf"(?:\(0[0-9]{{2,3}}\) ?|（0[0-9]{{2,3}}）|{_B}0[0-9]{{2,3}}-)[0-9]{{7,8}}{_B}"

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
NUMBER_HINT = r"[0-9]{15}|[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{4}"
PHONE_HINT = r"[0-9]{7}|[0-9]{3}[- ][0-9]{4}"  # every rule's match has one of these
EMAIL_HINT = "@"
SECRET_URL_HINT = "://"
SECRET_KEY_HINT = r"sk-|AKIA|gh[pousr]_|github_pat_|xox[abprs]-|AIza|(?i:key|secret|token|passw)"

_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|[0-9]{4}(?:[ -]?[0-9]{4}){3}(?:[ -]?[0-9]{1,3})?)(?![0-9A-Za-z])"
)
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
    """16-19 digits, a card-network prefix and a valid Luhn checksum."""
    digits = re.sub(r"[ -]", "", number)
    return 16 <= len(digits) <= 19 and digits.isdigit() and bool(_CARD_PREFIX.match(digits)) and luhn_valid(digits)


def _scrub_number(match: re.Match[str]) -> str:
    number = match.group()
    if id_card_valid(number):
        return PLACEHOLDERS["id_card"]
    if bank_card_valid(number):
        return PLACEHOLDERS["bank_card"]
    return number


def scrub_numbers(text: str) -> str:
    """Replace checksum-valid ID card and bank card numbers (the only per-string Python PII rule)."""
    return _NUMBER.sub(_scrub_number, text)


def scrub_phones(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(MOBILE, PLACEHOLDERS["phone"]).str.replace_all(LANDLINE, PLACEHOLDERS["phone"])


def scrub_emails(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(EMAIL, PLACEHOLDERS["email"])


def scrub_secret_urls(text: pl.Expr) -> pl.Expr:
    return text.str.replace_all(SECRET_URL, PLACEHOLDERS["secret_url"])


def scrub_secret_keys(text: pl.Expr) -> pl.Expr:
    text = text.str.replace_all(KEY_SHAPES, PLACEHOLDERS["secret_key"])
    return text.str.replace_all(KEY_ASSIGNMENT, "${1}" + PLACEHOLDERS["secret_key"] + "${2}")
