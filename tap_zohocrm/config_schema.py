"""The tap's settings (JSON schema): credentials, data centre, paging, backfill, ...

Kept apart from :mod:`tap_zohocrm.tap`, which only wires settings, streams and the CLI.
"""

from __future__ import annotations

from singer_sdk import typing as th

from tap_zohocrm import bulk, hosts

__all__ = ["CONFIG_SCHEMA", "DEFAULT_SCOPES"]

#: What the tap reads: records, field and module metadata, users and org, Bulk Read.
DEFAULT_SCOPES = (
    "ZohoCRM.modules.READ,ZohoCRM.settings.fields.READ,ZohoCRM.settings.modules.READ,"
    "ZohoCRM.users.READ,ZohoCRM.org.READ,ZohoCRM.bulk.READ,ZohoCRM.coql.READ,ZohoCRM.settings.roles.READ,"
    "ZohoCRM.settings.profiles.READ,ZohoCRM.settings.territories.READ"
)

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "client_id",
        th.StringType,
        required=True,
        secret=True,
        title="Client ID",
        description="OAuth client id of the Zoho Self Client (api-console.zoho.com).",
    ),
    th.Property(
        "client_secret",
        th.StringType,
        required=True,
        secret=True,
        title="Client Secret",
        description="OAuth client secret of the Zoho Self Client. Never logged.",
    ),
    th.Property(
        "auth_method",
        th.StringType,
        default="refresh_token",
        allowed_values=["refresh_token", "client_credentials"],
        title="Auth Method",
        description=(
            "refresh_token (a refresh token made once from a grant code: tap-zohocrm auth) "
            "or client_credentials (Self Client login with soid and scopes, no refresh "
            "token; a new token is requested when one expires)."
        ),
    ),
    th.Property(
        "soid",
        th.StringType,
        title="SOID",
        description="For client_credentials: ZohoCRM.<org id> (Setup > Company Details).",
    ),
    th.Property(
        "scopes",
        th.StringType,
        default=DEFAULT_SCOPES,
        title="Scopes",
        description="For client_credentials: the comma-separated scopes to request.",
    ),
    th.Property(
        "refresh_token",
        th.StringType,
        secret=True,
        title="Refresh Token",
        description=(
            "Long-lived refresh token (required with auth_method refresh_token), made once "
            "from a Self Client grant code by tap-zohocrm auth. Never logged."
        ),
    ),
    th.Property(
        "data_center",
        th.StringType,
        default=hosts.DEFAULT_DATA_CENTER,
        allowed_values=list(hosts.DATA_CENTERS),
        title="Data Center",
        description=(
            "Zoho data centre of the org: "
            + ", ".join(f"{dc.code} ({dc.label})" for dc in hosts.DATA_CENTERS.values())
            + ". Picks the accounts server; the token's api_domain then picks the API host."
        ),
    ),
    th.Property(
        "environment",
        th.StringType,
        default=hosts.DEFAULT_ENVIRONMENT,
        allowed_values=list(hosts.ENVIRONMENTS),
        title="Environment",
        description=(
            "Which org of the data centre to read: production, sandbox "
            "(sandbox.zohoapis.*) or developer (developer.zohoapis.*)."
        ),
    ),
    th.Property(
        "accounts_url",
        th.StringType,
        title="Accounts URL",
        description=(
            "Overrides the data centre's accounts server, e.g. https://accounts.zoho.eu "
            "(the bundled emulator uses this)."
        ),
    ),
    th.Property(
        "api_domain",
        th.StringType,
        title="API Domain",
        description=(
            "Overrides the API domain, e.g. https://www.zohoapis.eu; by default it comes "
            "from the token response."
        ),
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start Date",
        description=(
            "Only records modified after this instant on the first sync; all history when unset."
        ),
    ),
    th.Property(
        "page_size",
        th.IntegerType(minimum=1, maximum=200),
        default=200,
        title="Page Size",
        description=(
            "Records per Get Records call; 200 is Zoho's maximum and the cheapest "
            "(each call costs one API credit)."
        ),
    ),
    th.Property(
        "request_timeout",
        th.IntegerType(minimum=1),
        default=300,
        title="Request Timeout",
        description="Seconds before an HTTP request is abandoned (and retried).",
    ),
    th.Property(
        "user_agent",
        th.StringType,
        title="User Agent",
        description="User-Agent header sent to Zoho (default tap-zohocrm/<version>).",
    ),
    th.Property(
        "include_converted_leads",
        th.BooleanType,
        default=True,
        title="Include Converted Leads",
        description=(
            "Keep converted leads in the leads stream (converted=both); Zoho hides them by default."
        ),
    ),
    th.Property(
        "include_deleted",
        th.BooleanType,
        default=True,
        title="Include Deleted",
        description=(
            "Emit deleted records (from /{Module}/deleted, incrementally) in their stream "
            "as records with _sdc_deleted_at set; costs one API call per stream per sync "
            "when nothing was deleted."
        ),
    ),
    th.Property(
        "modules",
        th.ArrayType(th.StringType),
        title="Modules",
        description=(
            "Extra module API names to sync besides Leads, Contacts and Deals, custom "
            "modules included (e.g. Accounts, Tasks, Projects); checked against "
            "/settings/modules. Stream names are the API names in snake case."
        ),
    ),
    th.Property(
        "subforms",
        th.ArrayType(th.StringType),
        title="Subforms",
        description=(
            "Custom subforms to sync as line-item streams, as Parent.Subform API names (e.g. "
            "Accounts.Renewals); the stream is the subform's name in snake case. Quoted_Items, "
            "Ordered_Items, Invoiced_Items and Purchase_Items have their own streams."
        ),
    ),
    th.Property(
        "timeline_modules",
        th.ArrayType(th.StringType),
        title="Timeline Modules",
        description=(
            "Modules whose records' __timeline (who changed what, with old and new values) is "
            "synced as <module>_timeline, for the records changed since the previous sync "
            "(1 credit per changed record). The first sync starts the bookmark."
        ),
    ),
    th.Property(
        "timeline_backfill",
        th.BooleanType,
        default=False,
        title="Timeline Backfill",
        description=(
            "Read the whole __timeline of every record of the timeline_modules on their first "
            "sync (1 credit per record; the estimate is logged first)."
        ),
    ),
    th.Property(
        "stage_history_backfill",
        th.BooleanType,
        default=False,
        title="Stage History Backfill",
        description=(
            "When deal_stage_history is selected, read every deal's Stage_History on its first "
            "sync (1 credit per deal; the estimate is logged first). Otherwise the first sync "
            "starts the bookmark and later syncs read the deals that changed."
        ),
    ),
    th.Property(
        "pagination",
        th.StringType,
        default="keyset",
        allowed_values=["keyset", "page_token"],
        title="Pagination",
        description=(
            "How Get Records pages: keyset (every page a new query from the newest "
            "complete second read; no record is skipped when others change mid-sync) or "
            "page_token (Zoho's tokens only, which can skip records that others change "
            "while the tap pages; for comparison)."
        ),
    ),
    th.Property(
        "refresh_formula_fields",
        th.BooleanType,
        default=False,
        title="Refresh Formula Fields",
        description=(
            "Read every record of the modules that have formula fields on each run, since "
            "Zoho changes formula values without changing Modified_Time; costs "
            "ceil(records / 200) API calls per such module per run."
        ),
    ),
    th.Property(
        "read_method",
        th.StringType,
        default="auto",
        allowed_values=["rest", "coql", "auto"],
        title="Read Method",
        description=(
            "How module records are read: rest (Get Records, 1 credit per 200), coql (COQL, "
            "1 credit per 200, 2 per 1,000, 3 per 2,000; keyset on Modified_Time and id) or "
            "auto (COQL when the token has ZohoCRM.coql.READ and COQL can return the selected "
            "fields exactly as Get Records does, else REST)."
        ),
    ),
    th.Property(
        "coql_max_fields",
        th.IntegerType(minimum=3),
        default=50,
        title="COQL Max Fields",
        description=(
            "Columns per COQL query (Zoho documents 50); wider selections are read in batches "
            "merged by id."
        ),
    ),
    th.Property(
        "max_concurrent_requests",
        th.IntegerType(minimum=1, maximum=25),
        default=3,
        title="Max Concurrent Requests",
        description=(
            "API calls in flight at once: module streams sync concurrently (their records "
            "interleave in the output). Zoho allows per org and app: Free 5, Standard 10, "
            "Professional 15, Enterprise 20, Ultimate 25, of which at most 10 COQL or Bulk "
            "calls; other clients of the org share the limit. 1 reads one stream at a time."
        ),
    ),
    th.Property(
        "max_credits_per_run",
        th.IntegerType(minimum=1),
        title="Max Credits Per Run",
        description=(
            "Stop cleanly before the call that would spend more API credits than this in one "
            "run: the run ends at its last checkpoint with one warning, exits 0, and the next "
            "run resumes there. Unset: no limit."
        ),
    ),
    th.Property(
        "backfill_method",
        th.StringType,
        default=bulk.DEFAULT_BACKFILL_METHOD,
        allowed_values=list(bulk.BACKFILL_METHODS),
        title="Backfill Method",
        description=(
            "How a stream without a bookmark reads its module: rest (Get Records, 1 credit "
            "per 200 records), bulk (a Bulk Read export, about 50 credits per 200,000 "
            "records, then REST from its snapshot on) or auto (bulk when one record count "
            "says the module holds more than bulk_threshold records)."
        ),
    ),
    th.Property(
        "bulk_threshold",
        th.IntegerType(minimum=0),
        default=bulk.DEFAULT_BULK_THRESHOLD,
        title="Bulk Threshold",
        description="Records above which backfill_method auto uses Bulk Read.",
    ),
    th.Property(
        "bulk_max_wait_seconds",
        th.NumberType(minimum=0),
        default=bulk.DEFAULT_BULK_MAX_WAIT_SECONDS,
        title="Bulk Max Wait Seconds",
        description=(
            "Longest wait for one Bulk Read job to complete; then the stream falls back to "
            "Get Records with a warning."
        ),
    ),
).to_dict()
