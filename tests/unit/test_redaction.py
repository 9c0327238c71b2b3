"""Redaction of every secret shape, the exact-value registry, and the logging filter."""

from __future__ import annotations

import io
import logging

import pytest

from wg_desktop.config import Settings
from wg_desktop.logging_setup import configure_logging
from wg_desktop.paths import Paths
from wg_desktop.security.redaction import MASK, RedactingFilter, SecretRegistry, redact

PAT = "pat-na1-fake0a1b2c3d-4e5f-6789-abcd-ef0123456789"
PAT_EU = "pat-eu1-fake99887766-5544-3322-1100-ffeeddccbbaa"
HUBSPOT_ACCESS = "CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7O"

# (name, text, secrets that must vanish, fragments that must remain)
SECRET_FORMS = [
    ("header", "Authorization: Bearer x", ["Bearer x"], ["Authorization: Bearer " + MASK]),
    ("header-long", f"authorization: bearer {HUBSPOT_ACCESS}", [HUBSPOT_ACCESS], []),
    ("header-basic", "Authorization: Basic dXNlcjpwYXNzd29yZA==", ["dXNlcjpwYXNzd29yZA"], []),
    ("header-dict", "{'Authorization': 'Bearer x'}", ["Bearer x'"], ["'Authorization'"]),
    ("header-dict-json", '{"Authorization": "Bearer abc.def.ghi", "Accept": "json"}',
     ["abc.def.ghi"], ['"Accept": "json"']),
    ("bare-bearer", f"retrying with bearer {HUBSPOT_ACCESS} now", [HUBSPOT_ACCESS],
     ["retrying with", "now"]),
    ("json-access", '{"access_token": "at-123456789", "expires_in": 1800}', ["at-123456789"],
     ['"expires_in": 1800', '"access_token": "' + MASK + '"']),
    ("json-refresh", '{"refresh_token":"rt-abcdef-123456","token_type":"bearer"}',
     ["rt-abcdef-123456"], ['"token_type":"bearer"']),
    ("json-client-secret", '{"client_id": "cid-1", "client_secret": "cs-00000000-1111"}',
     ["cs-00000000-1111"], ['"client_id": "cid-1"']),
    ("json-multiline", '{\n  "access_token":\n    "at-multi-line-999"\n}',
     ["at-multi-line-999"], []),
    ("dict-repr", "{'refresh_token': 'rt-repr-1234567', 'hub_id': 42}", ["rt-repr-1234567"],
     ["'hub_id': 42"]),
    ("json-password", '{"password": "hunter2hunter2"}', ["hunter2hunter2"], []),
    ("json-code-verifier", '{"code_verifier": "verifier-abcdefgh"}', ["verifier-abcdefgh"], []),
    ("form", "grant_type=refresh_token&refresh_token=rt-form-1&client_secret=cs-form-2"
             "&client_id=cid-3", ["rt-form-1", "cs-form-2"],
     ["grant_type=refresh_token", "client_id=cid-3"]),
    ("form-code", "grant_type=authorization_code&code=auth-code-77&redirect_uri=http://x",
     ["auth-code-77"], ["grant_type=authorization_code", "redirect_uri=http://x"]),
    ("query", "GET /callback?code=abc123xyz&state=st-42 HTTP/1.1", ["abc123xyz"],
     ["state=st-42", "/callback?code=" + MASK]),
    ("query-token", "https://example.com/hook?token=tok-5555&x=1", ["tok-5555"], ["x=1"]),
    ("pat", f"using private app token {PAT} for portal 42", [PAT],
     ["private app token", "portal 42"]),
    ("pat-eu", f"token={PAT_EU}", [PAT_EU, "99887766"], []),
    ("pat-in-json-error", f'{{"message": "bad token {PAT}"}}', [PAT], ['"message"']),
    ("refresh-path", "DELETE /oauth/v1/refresh-tokens/rt-path-abc?x=1 -> 204",
     ["rt-path-abc"], ["/oauth/v1/refresh-tokens/" + MASK, "?x=1 -> 204"]),
    ("access-path", "GET https://api.hubapi.com/oauth/v1/access-tokens/at-path-xyz",
     ["at-path-xyz"], ["/oauth/v1/access-tokens/"]),
    # JSON inside a JSON string (json.dumps of a dict holding a response body)
    ("json-escaped", '{"body": "{\\"access_token\\": \\"at-escaped-123456\\"}"}',
     ["at-escaped-123456"], ['{"body": ']),
    # Python reprs of token objects (dataclasses, namedtuples, kwargs in tracebacks)
    ("dataclass-repr", "TokenSet(access_token='at-repr-abcdef', refresh_token='rt-repr-ghijkl')",
     ["at-repr-abcdef", "rt-repr-ghijkl"], ["TokenSet("]),
    ("kwargs-double-quote", 'refresh(refresh_token="rt-kw-12345678")', ["rt-kw-12345678"], []),
]


@pytest.mark.parametrize("name,text,gone,kept", SECRET_FORMS, ids=[r[0] for r in SECRET_FORMS])
def test_secret_forms_are_redacted(name, text, gone, kept):
    result = redact(text)
    assert MASK in result
    for secret in gone:
        assert secret not in result, f"{secret!r} survived in {result!r}"
    for fragment in kept:
        assert fragment in result, f"{fragment!r} was lost from {result!r}"


NOT_SECRETS = [
    "status_code=200",
    "error_code=429 retry_after=10",
    '{"code": "VALIDATION_ERROR", "message": "Property foo is invalid"}',
    '{"status": "error", "category": "RATE_LIMITS", "correlationId": "a1b2c3"}',
    '{"token_type": "bearer", "expires_in": 1800}',
    "portal 12345 synced 87 workflows in 2.5 s",
    "GET /automation/v4/flows?limit=100&after=abc HTTP/1.1 200",
    "Authorization header missing",
    "secretary=bob passcode_hint=none",
    "hubId=44556677 user=admin@example.com",
    "",
]


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_non_secrets_are_untouched(text):
    assert redact(text) == text


def test_redaction_is_idempotent():
    for _, text, _, _ in SECRET_FORMS:
        once = redact(text)
        assert redact(once) == once


# -- the exact-value registry -------------------------------------------------------------

def test_registry_values_are_masked_anywhere():
    registry = SecretRegistry()
    registry.add("Zq9-opaque-hubspot-token")
    registry.add("s3cr3t-client-value")
    text = ("prefixZq9-opaque-hubspot-tokensuffix | repr: ('s3cr3t-client-value',) | "
            "url /x/Zq9-opaque-hubspot-token/y")
    result = redact(text, registry)
    assert "Zq9-opaque-hubspot-token" not in result
    assert "s3cr3t-client-value" not in result
    assert result.count(MASK) == 3
    assert result.startswith("prefix" + MASK + "suffix")


def test_registry_masks_the_longest_value_whole():
    registry = SecretRegistry()
    registry.add("abcdefgh")
    registry.add("abcdefgh-ijkl-mnop")
    assert redact("value=abcdefgh-ijkl-mnop.", registry) == f"value={MASK}."
    assert registry.values()[0] == "abcdefgh-ijkl-mnop"


@pytest.mark.parametrize("value", [None, "", "short", "1234567"])
def test_registry_ignores_empty_and_short_values(value):
    registry = SecretRegistry()
    registry.add(value)
    assert registry.values() == []
    assert redact("a short value 1234567 here", registry) == "a short value 1234567 here"


def test_registry_values_with_regex_characters():
    registry = SecretRegistry()
    registry.add("a+b*c?(d)[e]{f}|g^h$i\\j")
    assert redact("x a+b*c?(d)[e]{f}|g^h$i\\j y", registry) == f"x {MASK} y"


# -- the logging filter ----------------------------------------------------------------

@pytest.fixture
def captured_logger():
    registry = SecretRegistry()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(registry))
    logger = logging.getLogger("wg_desktop.tests.redaction")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    yield logger, stream, registry
    logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def test_filter_redacts_message_args(captured_logger):
    logger, stream, registry = captured_logger
    registry.add("registered-opaque-token-1")
    logger.info("refreshing %s with %r", "portal 42", {"refresh_token": "rt-args-123456"})
    logger.info("token %s", "registered-opaque-token-1")
    logger.warning("header Authorization: Bearer %s", "hdr-token-9999")
    logger.debug("private app %s", PAT)
    output = stream.getvalue()
    for secret in ("rt-args-123456", "registered-opaque-token-1", "hdr-token-9999", PAT):
        assert secret not in output
    assert "refreshing portal 42" in output
    assert output.count(MASK) == 4


def test_filter_redacts_exception_tracebacks(captured_logger):
    logger, stream, registry = captured_logger
    registry.add("opaque-exception-token-77")

    def refresh(refresh_token: str) -> None:
        raise RuntimeError(f"refresh failed for refresh_token={refresh_token} "
                           f"and Authorization: Bearer {HUBSPOT_ACCESS}")

    secret = "-".join(("rt", "traceback", "secret", "1"))  # not a literal in the traceback
    try:
        refresh(secret)
    except RuntimeError:
        logger.exception("sync failed")
    try:
        raise ValueError("opaque-exception-token-77 rejected")
    except ValueError:
        logger.error("second failure", exc_info=True)

    output = stream.getvalue()
    assert "Traceback (most recent call last)" in output
    assert "RuntimeError: refresh failed" in output
    assert "ValueError" in output
    for secret in ("rt-traceback-secret-1", HUBSPOT_ACCESS, "opaque-exception-token-77"):
        assert secret not in output


def test_filter_redacts_stack_info(captured_logger):
    logger, stream, _ = captured_logger
    logger.warning("here", stack_info=True); token = "pat-na1-fake11112222-3333-4444-5555-666677778888"  # noqa: E702,E501
    output = stream.getvalue()
    assert "Stack (most recent call last)" in output
    assert token not in output
    assert "pat-na1-11112222" not in output


def test_filter_survives_a_bad_format_string_and_still_redacts(captured_logger):
    logger, stream, registry = captured_logger
    registry.add("bad-format-secret-123")
    logger.info("value %d", "bad-format-secret-123")
    output = stream.getvalue()
    assert output.strip() != ""
    assert "bad-format-secret-123" not in output


def test_filter_always_lets_the_record_through():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token=%s", ("abc12345",), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "token=" + MASK
    assert record.args is None


# -- configure_logging: the real log file ----------------------------------------------

@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hubspot_level = logging.getLogger("wg_desktop.hubspot").level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.getLogger("wg_desktop.hubspot").setLevel(hubspot_level)


def _owned_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "_wg_handler", False)]


def test_configure_logging_writes_a_redacted_private_log_file(data_dir, capsys,
                                                              restore_root_logger):
    paths = Paths.resolve(data_dir, {}).ensure()
    settings = Settings.load(None, {"HUBSPOT_LOG_LEVEL": "debug"})
    registry = SecretRegistry()
    registry.add("registered-client-secret-value")
    file_handler = configure_logging(paths, settings, registry)
    configure_logging(paths, settings, registry)  # reconfiguring replaces, never duplicates
    assert len(_owned_handlers()) == 2
    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("wg_desktop.hubspot").level == logging.DEBUG

    log = logging.getLogger("wg_desktop.tests.file")
    log.debug("POST /oauth/v1/token body=grant_type=refresh_token&refresh_token=%s",
              "rt-file-secret-1")
    log.info("client secret is %s", "registered-client-secret-value")
    try:
        raise ConnectionError(f"401 for Authorization: Bearer {HUBSPOT_ACCESS} ({PAT})")
    except ConnectionError:
        log.exception("call failed")
    for handler in _owned_handlers():
        handler.flush()

    assert file_handler.baseFilename == str(paths.log_file)
    content = paths.log_file.read_bytes()
    assert b"call failed" in content and b"Traceback" in content
    assert b"ConnectionError" in content
    for secret in ("rt-file-secret-1", "registered-client-secret-value", HUBSPOT_ACCESS, PAT):
        assert secret.encode() not in content, secret
    assert oct(paths.log_file.stat().st_mode & 0o777) == oct(0o600)

    err = capsys.readouterr().err
    assert "call failed" in err  # ERROR reaches stderr too ...
    for secret in (HUBSPOT_ACCESS, PAT):
        assert secret not in err  # ... redacted


def test_configure_logging_levels_from_settings(data_dir, restore_root_logger):
    paths = Paths.resolve(data_dir, {}).ensure()
    configure_logging(paths, Settings.load(None, {"HUBSPOT_LOG_LEVEL": "warning",
                                                  "HUBSPOT_DETAILED_LOGGING": "false"}),
                      SecretRegistry())
    assert logging.getLogger().level == logging.WARNING
    assert logging.getLogger("wg_desktop.hubspot").level == logging.INFO
    logging.getLogger("wg_desktop.tests.levels").info("should not be written")
    for handler in _owned_handlers():
        handler.flush()
    assert b"should not be written" not in paths.log_file.read_bytes()


# -- redaction must not eat words ----------------------------------------------------------

def test_the_apps_own_message_about_a_rejected_token_stays_readable():
    message = "HubSpot rejected the portal's token: reconnect needed"
    assert redact(message) == message
    assert redact("password: wrong, try again") == "password: wrong, try again"
    assert redact("uses Bearer authentication") == "uses Bearer authentication"


def test_token_shaped_values_after_the_same_words_are_still_masked():
    assert "abc123def456ghi" not in redact("refresh_token: abc123def456ghi")
    assert "CJSP5qf1KhICAQEYs" not in redact("sent Bearer CJSP5qf1KhICAQEYs-x")
    assert "4f1e-9a3c-77aa" not in redact("code=4f1e-9a3c-77aa&state=x")


def test_no_message_written_in_the_app_is_altered_by_redaction():
    """Every string literal of the app (its messages, labels, help) passes
    through the filter unchanged; regex sources are not messages."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "wg_desktop"
    altered = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and "(?P<" not in node.value and redact(node.value) != node.value):
                altered.append(f"{path.relative_to(root)}:{node.lineno}: {node.value[:60]!r}")
    assert altered == []
