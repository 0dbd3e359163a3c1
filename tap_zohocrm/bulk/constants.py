"""Bulk Read's settings, limits and the export's column conventions."""

from __future__ import annotations

import typing as t

from tap_zohocrm.client import (
    API_VERSION,
)
from tap_zohocrm.credits import BULK_JOB

if t.TYPE_CHECKING:
    pass


#: Values of the ``backfill_method`` setting.
BACKFILL_METHODS = ("auto", "bulk", "rest")
#: Modules Zoho's Bulk Read does not export.
NOT_IN_BULK_READ = frozenset({"Notes", "Attachments", "Emails"})
DEFAULT_BACKFILL_METHOD = "auto"
#: ``auto`` backfills in bulk above this many records: a job costs about 50 credits plus a few
#: for polling, the same as 10,000 records over REST, so below twice that REST is as cheap and
#: starts emitting at once.
DEFAULT_BULK_THRESHOLD = 20_000
#: Longest wait for one job to complete before falling back to REST (Zoho takes minutes for
#: 200,000 records when it is busy).
DEFAULT_BULK_MAX_WAIT_SECONDS = 1800.0
#: Credits Zoho charges for creating a Bulk Read job ("about 50"; status and download 1).
BULK_JOB_CREDITS = BULK_JOB
#: Zoho's download limit for Bulk Read results.
DOWNLOADS_PER_MINUTE = 10

BULK_READ_PATH = f"/crm/bulk/{API_VERSION}/read"
BULK_SCOPE = "ZohoCRM.bulk.READ"

#: Owner and user lookups: Get Records renders ``{name, id, email}``; Bulk Read exports these
#: user fields, ``name`` being ``first_name last_name``.
USER_COLUMNS = ("first_name", "last_name", "email")
_USER_TYPES = frozenset({"ownerlookup", "userlookup"})
#: Types Get Records' list API omits (null in its records), so the export skips them too.
UNEXPORTED_TYPES = frozenset(
    {"subform", "multiselectlookup", "multiuserlookup", "fileupload", "imageupload"}
)
_CSV_FIELD_LIMIT = 64 * 1024 * 1024  # rich text can exceed csv's 128 KiB default

_Getter = t.Callable[[list[str]], t.Any]
