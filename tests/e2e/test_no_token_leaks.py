"""After a full connect / refresh / sync / export / disconnect cycle, no token
or secret appears in the database (decrypted, every text column), the log
file, the settings file or any export."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import zipfile

import peewee as pw

from tests.support.context import make_context
from tests.support.demo import approve_in_browser
from wg_desktop.demo.server import DemoConfig, DemoPortal
from wg_desktop.logging_setup import configure_logging, remove_app_handlers
from wg_desktop.services.hubspot_setup import build_hubspot_services
from wg_desktop.services.workflows import WorkflowQueries
from wg_desktop.store import models


def all_database_text(store) -> str:
    """Every text and blob column, decrypted, plus every version decoded
    (version bodies are zstd-compressed, so their bytes alone prove nothing)."""
    from wg_desktop.store.versions import version_json

    chunks = [json.dumps(version_json(v)) for v in models.WorkflowVersion.select()]
    for model in models.ALL_MODELS:
        fields = [f for f in model._meta.sorted_fields
                  if isinstance(f, (pw.TextField, pw.CharField, pw.BlobField))]
        for row in model.select(*fields).tuples():
            for value in row:
                if isinstance(value, (bytes, memoryview)):
                    value = bytes(value).decode("latin-1")
                chunks.append(str(value))
    return "\n".join(chunks)


def test_tokens_never_leak(data_dir, tmp_path):
    ctx = make_context(data_dir, {"HUBSPOT_LOG_LEVEL": "debug"})
    configure_logging(ctx.paths, ctx.settings, ctx.registry)
    secrets_seen: set[str] = set()
    with DemoPortal(DemoConfig(seed=41, workflows=15, rotate_refresh_tokens=True,
                               burst_limit=10_000)) as demo:
        hub = build_hubspot_services(ctx.settings, ctx.store, ctx.audit, ctx.secrets,
                                     registry=ctx.registry, demo=demo)
        secrets_seen.add(demo.client_secret)
        request = hub.connection.authorization_request()
        code = request.code_from_redirect(approve_in_browser(request))
        secrets_seen.update({code, request.code_verifier})
        portal = hub.connection.complete_oauth(request, code)
        first = hub.vault.load(portal.hub_id)
        secrets_seen.update({first.access_token, first.refresh_token})
        # force a refresh (and rotation) by pretending the token is about to expire
        hub.vault.save(portal.hub_id, dataclasses.replace(first, expires_at=time.time() + 60))
        hub.tokens.access_token(str(portal.hub_id))
        second = hub.vault.load(portal.hub_id)
        assert second.refresh_token != first.refresh_token
        secrets_seen.update({second.access_token, second.refresh_token})
        pat = demo.private_app_token(demo.portal_ids[0])
        secrets_seen.add(pat)
        hub.sync.sync(portal.hub_id)
        logging.getLogger("wg_desktop.test").info("token in a message: %s", second.access_token)
        try:
            raise RuntimeError(f"failure carrying {second.refresh_token}")
        except RuntimeError:
            logging.getLogger("wg_desktop.test").exception("crash with a token")
        queries = WorkflowQueries(ctx.store, ctx.audit)
        queries.export_zip(tmp_path / "workflows.zip")
        ctx.audit.export_csv(tmp_path / "audit.csv")
        hub.connection.disconnect(portal.hub_id)
        hub.clients.close()

    for handler in logging.getLogger().handlers:
        handler.flush()
    files = [p for p in list(data_dir.rglob("*")) + list(tmp_path.glob("*.*")) if p.is_file()]
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(tmp_path / "workflows.zip") as archive:
        archive.extractall(unpacked)       # DEFLATE hides strings from a byte scan
    files += [p for p in unpacked.rglob("*") if p.is_file()]
    assert len(files) > 10
    assert ctx.paths.log_file in files and ctx.paths.log_file.stat().st_size > 0
    database = all_database_text(ctx.store)
    assert "sync" in database        # the scan really reads decrypted rows
    for secret in secrets_seen:
        assert secret and secret not in database, "a secret is in the database"
        for path in files:
            raw = path.read_bytes()
            assert secret.encode() not in raw, f"a secret is in {path.name}"
    log_text = ctx.paths.log_file.read_text()
    assert "[REDACTED]" in log_text
    remove_app_handlers()
    ctx.close()
