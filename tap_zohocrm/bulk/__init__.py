"""Bulk Read backfill: the first sync of a large module at a fraction of the API credits.

Get Records costs one credit per 200 records; a Bulk Read job exports up to 200,000 records
for about 50 credits. A first sync (no bookmark) of a large module therefore exports the
module with Bulk Read and then continues over REST (Get Records with ``If-Modified-Since``)
from where the export's snapshot ends, in the same run.

The pieces, bottom up:

- :class:`BulkReadClient` speaks the endpoints (create a job, poll it, download the zip, plus
  the record count, field metadata and tag list the backfill needs), with the tap's retries,
  token refresh and one-sentence errors (it is a :class:`~tap_zohocrm.client.ZohoStream`).
- :class:`RecordPlan` turns the export's CSV rows into records identical in shape and type to
  Get Records output: Zoho's CSV has lookups as bare ids, booleans as ``true``/``false``,
  multi-selects joined by ``;`` and every value as text.
- :class:`BulkReader` runs the jobs of one export: create, poll with backoff within a bounded
  wait, download to a temporary file in chunks, stream the CSV out of the zip, and follow
  ``more_records`` with the next job.
- :class:`BulkBackfill` decides whether a stream backfills in bulk (setting
  ``backfill_method``) and hands the stream its records and the bookmark tracker to continue
  with over REST.

A job that fails, expires or does not finish in time never hangs the tap: the backfill falls
back to Get Records with a warning (records already emitted come again; targets upsert on
``id``).
"""

from __future__ import annotations

from tap_zohocrm.bulk.backfill import BulkBackfill, BulkReader
from tap_zohocrm.bulk.client import BulkReadClient, BulkReadError, DownloadLimiter, JobResult
from tap_zohocrm.bulk.constants import (
    BACKFILL_METHODS,
    BULK_JOB_CREDITS,
    DEFAULT_BACKFILL_METHOD,
    DEFAULT_BULK_MAX_WAIT_SECONDS,
    DEFAULT_BULK_THRESHOLD,
    NOT_IN_BULK_READ,
)
from tap_zohocrm.bulk.convert import RecordPlan

__all__ = [
    "BACKFILL_METHODS",
    "BULK_JOB_CREDITS",
    "DEFAULT_BACKFILL_METHOD",
    "DEFAULT_BULK_MAX_WAIT_SECONDS",
    "DEFAULT_BULK_THRESHOLD",
    "NOT_IN_BULK_READ",
    "BulkBackfill",
    "BulkReadClient",
    "BulkReadError",
    "BulkReader",
    "DownloadLimiter",
    "JobResult",
    "RecordPlan",
]
