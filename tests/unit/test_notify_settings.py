"""The notification settings that used to be constants or guesses: the webhook
signing secret (keychain), and ``notify.smtp_security`` (starttls, ssl, none,
auto) against real local SMTP servers, plain and with TLS (a certificate made
for 127.0.0.1 by the test)."""

from __future__ import annotations

import datetime as dt
import json
import smtplib
import ssl

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.unit.test_notifiers import NOTE, SECRET, Inbox, Receiver, _auth, free_port
from wg_desktop.config import BY_KEY, Kind, Source
from wg_desktop.services.notifiers import (EmailChannel, EmailConfig, SmtpSecurity,
                                           channels_from_settings)
from wg_desktop.services.settings_service import SettingsService


# -- webhook secret --------------------------------------------------------------------

def test_the_webhook_secret_lives_in_the_keychain_and_signs_every_webhook(ctx, memory_keyring):
    assert BY_KEY["notify.webhook_secret"].kind is Kind.SECRET
    receiver = Receiver()
    try:
        ctx.settings.updated({"notify.webhook_urls": [receiver.url("/a"), receiver.url("/b")],
                              "notify.desktop": False})
        SettingsService(ctx.settings, ctx.secrets, ctx.audit).apply(
            {"notify.webhook_secret": SECRET})
        assert ctx.settings.source("notify.webhook_secret") is Source.KEYCHAIN
        assert SECRET not in ctx.settings.path.read_text()           # never in the file
        channels = channels_from_settings(ctx.settings)
        results = [c.send(NOTE) for c in channels]
        assert [r.ok for r in results] == [True, True]
        assert [valid for _, _, valid, _ in receiver.requests] == [True, True]
    finally:
        receiver.close()


def test_a_changed_webhook_secret_is_used_by_the_next_channels(ctx):
    service = SettingsService(ctx.settings, ctx.secrets, ctx.audit)
    ctx.settings.updated({"notify.webhook_urls": ["https://hooks.example.com/a"]})
    service.apply({"notify.webhook_secret": "first"})
    assert channels_from_settings(ctx.settings)[0].secret == "first"
    service.apply({"notify.webhook_secret": "second"})
    assert channels_from_settings(ctx.settings)[0].secret == "second"


# -- SMTP security ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1; returns (cert, key) paths."""
    import ipaddress
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _server_context(certificate):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _client_context(certificate):
    return ssl.create_default_context(cafile=str(certificate[0]))


@pytest.fixture
def servers(certificate):
    """Three local servers: plain (no STARTTLS), STARTTLS, and implicit TLS."""
    inbox = Inbox()
    plain = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=_auth,
                       auth_require_tls=False)
    starttls = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=_auth,
                          tls_context=_server_context(certificate), require_starttls=True)
    # aiosmtpd does not count implicit TLS as TLS for AUTH; the session is encrypted.
    implicit = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=_auth,
                          ssl_context=_server_context(certificate), auth_require_tls=False)
    for server in (plain, starttls, implicit):
        server.start()
    yield {"plain": plain, "starttls": starttls, "ssl": implicit}, inbox
    for server in (plain, starttls, implicit):
        server.stop()


def _channel(server, security, certificate, **kw):
    base = dict(host="127.0.0.1", port=server.port, sender="wg@example.com",
                recipients=("admin@example.com",), user="alerts", password="s3cret", timeout=5,
                security=SmtpSecurity(security))
    base.update(kw)
    return EmailChannel(EmailConfig(**base), ssl_context=_client_context(certificate))


@pytest.mark.parametrize("server, security", [("starttls", "starttls"), ("ssl", "ssl"),
                                              ("plain", "none"), ("starttls", "auto"),
                                              ("plain", "auto")])
def test_each_security_mode_delivers_to_its_kind_of_server(servers, certificate, server,
                                                           security):
    by_kind, inbox = servers
    result = _channel(by_kind[server], security, certificate).send(NOTE)
    assert result.ok, result.error
    assert len(inbox.messages) == 1


def test_starttls_is_required_when_chosen_even_on_this_machine(servers, certificate):
    by_kind, inbox = servers
    result = _channel(by_kind["plain"], "starttls", certificate).send(NOTE)
    assert not result.ok and "does not offer STARTTLS" in result.error
    assert "notify.smtp_security" in result.error and inbox.messages == []


def test_ssl_against_a_plain_server_is_one_clear_line(servers, certificate):
    by_kind, inbox = servers
    result = _channel(by_kind["plain"], "ssl", certificate, timeout=3).send(NOTE)
    assert not result.ok and result.error.startswith("TLS with the mail server 127.0.0.1:")
    assert "\n" not in result.error and inbox.messages == []


def test_ssl_is_not_inferred_from_the_port_once_chosen(servers, certificate):
    # ssl on a non-465 port works; auto on that port would have tried STARTTLS.
    by_kind, _ = servers
    assert _channel(by_kind["ssl"], "ssl", certificate).send(NOTE).ok
    assert not _channel(by_kind["ssl"], "auto", certificate, timeout=2).send(NOTE).ok


def test_none_never_sends_a_password_in_clear_to_another_machine(monkeypatch, servers,
                                                                 certificate):
    by_kind, inbox = servers
    connected = []
    monkeypatch.setattr(smtplib.SMTP, "connect",
                        lambda self, *a, **kw: connected.append(a) or (220, b""))
    result = _channel(by_kind["plain"], "none", certificate, host="mail.example.com").send(NOTE)
    assert not result.ok and "would travel unencrypted" in result.error
    assert connected == [] and inbox.messages == []


def test_none_without_a_login_may_use_a_plain_relay(servers, certificate):
    by_kind, inbox = servers
    result = _channel(by_kind["plain"], "none", certificate, user="", password="").send(NOTE)
    assert result.ok, result.error


def test_the_security_setting_reaches_the_channel(ctx):
    ctx.settings.updated({"notify.smtp_security": "ssl", "notify.smtp_port": 2465})
    config = EmailConfig.from_settings(ctx.settings)
    assert config.security is SmtpSecurity.SSL and config.implicit_tls
    ctx.settings.updated({"notify.smtp_security": "auto", "notify.smtp_port": 465})
    assert EmailConfig.from_settings(ctx.settings).implicit_tls
    ctx.settings.updated({"notify.smtp_port": 587})
    assert not EmailConfig.from_settings(ctx.settings).implicit_tls
    from wg_desktop.config import SettingError
    with pytest.raises(SettingError, match="expected one of auto, starttls, ssl, none"):
        ctx.settings.updated({"notify.smtp_security": "tls"})
    assert "notify.smtp_security" not in json.loads(ctx.settings.path.read_text())  # default
