"""The backup log (migration 6): one row per backup attempt, made or failed.

The older ``backup`` table of migration 1 was never written by anything; this
one carries what the backups feature needs (duration, schema version, key id,
verification) without changing a released table.
"""

from __future__ import annotations

import enum

import peewee as pw

from wg_desktop.store.models import BaseModel, UtcDateTimeField, utcnow


class BackupStatus(enum.StrEnum):
    VERIFIED = "verified"      # written, renamed into place, decrypted and integrity-checked
    FAILED = "failed"          # no file was kept


class BackupRecord(BaseModel):
    created_at = UtcDateTimeField(default=utcnow, index=True)
    file_name = pw.TextField(default="")        # inside the backups folder; '' when failed
    size = pw.IntegerField(default=0)
    sha256 = pw.TextField(default="")           # of the whole encrypted file
    duration_s = pw.FloatField(default=0.0)     # snapshot + write + verify
    schema_version = pw.IntegerField(default=0)
    key_id = pw.TextField(default="")
    status = pw.TextField(default=BackupStatus.FAILED)
    trigger = pw.TextField(default="manual")    # manual | scheduled
    message = pw.TextField(default="")


MIGRATION_6_MODELS = (BackupRecord,)
