"""Redaction: tokens, secrets and Authorization headers never reach a log line,
a crash dialog or an export.

Two layers: patterns that catch secret *shapes* (bearer headers, token form
fields, JSON token keys, HubSpot private-app tokens), and an exact-value
registry of every secret the app has loaded at run time, which catches a
secret wherever it appears.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "[REDACTED]"
_MIN_SECRET_LEN = 8   # shorter values would mask ordinary words

# Names of parameters and keys whose values are secrets, wherever they appear
# (query strings, forms, JSON, reprs). The HubSpot client masks the same list.
SECRET_PARAM_NAMES = frozenset({
    "access_token", "refresh_token", "client_secret", "code_verifier", "id_token", "token",
    "password", "passphrase", "api_key", "apikey", "hapikey", "secret", "code"})
# Longest first so that 'access_token' is matched before 'token'; 'code' last
# (see _JSON_SECRET_KEYS).
_SECRET_KEYS = "|".join(sorted(SECRET_PARAM_NAMES - {"code"}, key=len, reverse=True)) + "|code"

# In JSON, "code" is usually an error code, not an authorization code.
_JSON_SECRET_KEYS = _SECRET_KEYS.removesuffix("|code")

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer abc / Basic abc (header dumps, repr of dicts)
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|basic)\s+[^\s'\",}]+"),
     r"\1\2 " + MASK),
    # A bare "Bearer <token>" (token-shaped: with a digit; "Bearer authentication" is prose)
    (re.compile(r"(?i)\bbearer\s+(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}"),
     "Bearer " + MASK),
    # JSON / dict repr: "access_token": "abc"
    # (also JSON embedded in a JSON string, where the quotes are escaped: \"token\": \"…\")
    (re.compile(r"(?i)(['\"](?:" + _JSON_SECRET_KEYS + r")\\?['\"]\s*:\s*\\?['\"])[^'\"\\]*"
                r"(\\?['\"])"),
     r"\1" + MASK + r"\2"),
    # unquoted "refresh_token: abc123…" (YAML-ish, log text). Only a token-shaped
    # value (with a digit, as HubSpot's tokens and generated secrets have): in
    # prose such as "rejected the portal's token: reconnect needed" the word after
    # the colon is not a secret. Exact secret values are masked by the registry.
    (re.compile(r"(?i)\b((?:" + _JSON_SECRET_KEYS + r"):[ \t]*)(?!\[REDACTED\])"
                r"(?=[^\s'\",}]*\d)[^\s'\",}]{8,}"),
     r"\1" + MASK),
    # form / query strings: refresh_token=abc&...
    # form / query strings and Python reprs: refresh_token=abc&..., access_token='abc'
    # (at least 4 characters: "?code=…" in help text and "code=404" are not secrets)
    (re.compile(r"(?i)\b((?:" + _SECRET_KEYS + r")=['\"]?)[^&\s'\"]{4,}"), r"\1" + MASK),
    # HubSpot private-app tokens and token paths (/oauth/v1/refresh-tokens/<t>)
    (re.compile(r"\bpat-[a-z]{2}\d-[0-9A-Za-z-]{8,}"), MASK),
    (re.compile(r"(?i)(/(?:access|refresh)-tokens/)(?!\{)[^/\s?'\"]+"), r"\1" + MASK),
)


class SecretRegistry:
    """Exact secret values known at run time (thread-safe)."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        if value and len(value) >= _MIN_SECRET_LEN:
            with self._lock:
                self._values.add(value)

    def values(self) -> list[str]:
        with self._lock:
            # Longest first, so a secret containing another is masked whole.
            return sorted(self._values, key=len, reverse=True)


def redact(text: str, registry: SecretRegistry | None = None) -> str:
    if not text:
        return text
    if registry is not None:
        for value in registry.values():
            if value in text:
                text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Renders each record's message once, redacted, so no handler sees a secret."""

    def __init__(self, registry: SecretRegistry | None = None) -> None:
        super().__init__()
        self.registry = registry

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message, self.registry)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            # Format the traceback now and redact it; handlers use exc_text.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info),
                                     self.registry)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.registry)
        return True
