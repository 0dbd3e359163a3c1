"""Configuration of one emulator instance.

Everything that shapes the emulated org lives here so that a test can build a tiny,
fast org and a benchmark a large one from the same code, and so that two emulators built
from equal configs serve byte-identical data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_CLIENT_ID = "emulator-client-id"
DEFAULT_CLIENT_SECRET = "emulator-client-secret"  # noqa: S105 - a fixed test credential
DEFAULT_REFRESH_TOKEN = "emulator-refresh-token"  # noqa: S105 - a fixed test credential
DEFAULT_GRANT_CODE = "1000.emulator-grant-code"
DEFAULT_ORG_ID = "10001234567"

#: Scopes granted by default: everything the tap could need.
DEFAULT_SCOPES: tuple[str, ...] = (
    "ZohoCRM.modules.ALL",
    "ZohoCRM.settings.ALL",
    "ZohoCRM.bulk.READ",
    "ZohoCRM.coql.READ",
    "ZohoCRM.users.READ",
    "ZohoCRM.org.READ",
)

#: Record counts per module when the config does not say otherwise. Small on purpose:
#: most tests want a quick start; benchmarks pass their own sizes.
DEFAULT_SIZES: dict[str, int] = {
    "Leads": 300,
    "Contacts": 200,
    "Deals": 150,
    "Accounts": 100,
    "Projects": 50,
}

#: Size of every supported module that DEFAULT_SIZES does not name.
DEFAULT_OTHER_SIZE = 20


@dataclass
class EmulatorConfig:
    """Settings of an emulated Zoho CRM org and of its misbehaviour.

    Attributes:
        seed: Seed of all generated data and of the fault RNG; equal seeds give equal orgs.
        sizes: Record counts per module API name, overriding DEFAULT_SIZES.
        timezone: IANA zone of the API user; datetimes are rendered in it, with DST.
        client_id: OAuth client id that the token endpoint accepts.
        client_secret: OAuth client secret that the token endpoint accepts.
        refresh_token: Refresh token that the token endpoint accepts.
        grant_code: The one Self Client grant code the token endpoint exchanges (once) for
            ``refresh_token`` (``grant_type=authorization_code``).
        org_id: The org's id; client-credentials login needs ``soid=ZohoCRM.<org_id>``.
        edition: Zoho CRM edition (``standard``, ``professional``, ``enterprise``, ...);
            below Enterprise there is no Territory Management.
        scopes: Scopes granted to issued access tokens.
        token_lifetime_seconds: Seconds an access token lives (Zoho: 3600).
        token_lifetime_calls: API calls an access token serves before it expires (None: no
            limit). Lets tests force a mid-sync expiry without waiting.
        token_requests_per_minute: Refresh requests allowed per minute before the token
            endpoint answers "Access Denied" (None: no limit).
        page_token_cap: Records reachable through one page_token chain (Zoho: 100,000).
        page_token_ttl_seconds: Lifetime of a page token (Zoho: 24 hours).
        discrete_page_limit: Records reachable with the page parameter (Zoho: 2,000).
        fail_429: Fraction of API calls answered 429 TOO_MANY_REQUESTS.
        fail_500: Fraction of API calls answered 500 INTERNAL_ERROR.
        latency_ms: Delay added to every API and token request.
        host: Interface to listen on.
        port: Port to listen on; 0 picks a free one.
        start: Earliest generated Created_Time (ISO-8601).
        end: Latest generated Modified_Time (ISO-8601).
        converted_fraction: Share of generated Leads that start converted.
        deleted_fraction: Deleted-record entries generated per module, as a share of its size.
        shared_second_fraction: Share of records whose Modified_Time equals another's.
        bulk_job_seconds: Time a Bulk Read job takes from ADDED to COMPLETED.
        bulk_page_size: Records one Bulk Read job exports (Zoho: 200,000); more need a new job
            with the next page or page_token. Small values keep paging tests fast.
        bulk_fail: Fraction of Bulk Read jobs that end in FAILURE.
        bulk_result_ttl_seconds: How long a finished job's download stays available.
        bulk_downloads_per_minute: Downloads allowed per minute (Zoho: 10), then 429.
        bulk_job_credits: API credits a Bulk Read job creation costs (Zoho: about 50).
        churn_every_calls: Edit one record of each ``churn_modules`` module after every this
            many API calls (None: never); see :mod:`zoho_crm_emulator.churn`.
        churn_interval_ms: Also edit on a timer, every this many milliseconds (None: never).
        churn_modules: The modules churn edits.
        fail_garbage: Fraction of Get Records and deleted-records calls answered HTTP 200 with a
            useless body (HTML, a Zoho error body, truncated JSON, ``more_records`` without
            data), as a broken proxy or a failing Zoho front end does.
        garbage_kind: ``html``, ``error``, ``truncated``, ``more_without_data`` or ``mixed``.
        fail_garbage_after_calls: Listing calls answered normally before garbage may start.
        token_cycle: ``next_page_token`` of the second page points back to the first (a
            paging cycle), so a client that trusts tokens loops forever.
        coql_max_fields: Columns a COQL SELECT may name (Zoho's overview: 50).
        coql_system_keys: Whether COQL rows carry the analytic ``$`` keys Get Records sends
            (``$state``, ``$approval_state``, ``$currency_symbol``, ``$se_module``); Zoho's
            behaviour is unverified, so both settings are served.
        max_concurrent_calls: API calls the org serves at once (Zoho: 5 Free to 25
            Ultimate); one more in flight answers 429 TOO_MANY_REQUESTS (None: unlimited).
        daily_credits: The org's 24-hour API credit budget; once spent, every API call
            answers 429 TOO_MANY_REQUESTS (None: unlimited).
        deleted_loop: The deleted-records listing answers its first page for every page,
            always with ``more_records: true`` (a listing that never ends).
    """

    seed: int = 42
    sizes: dict[str, int] = field(default_factory=dict)
    timezone: str = "America/Los_Angeles"
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    refresh_token: str = DEFAULT_REFRESH_TOKEN
    grant_code: str = DEFAULT_GRANT_CODE
    org_id: str = DEFAULT_ORG_ID
    edition: str = "enterprise"
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    token_lifetime_seconds: float = 3600.0
    token_lifetime_calls: int | None = None
    token_requests_per_minute: int | None = None
    page_token_cap: int = 100_000
    page_token_ttl_seconds: float = 86_400.0
    discrete_page_limit: int = 2_000
    fail_429: float = 0.0
    fail_500: float = 0.0
    latency_ms: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0
    start: str = "2024-01-01T08:00:00+00:00"
    end: str = "2025-07-01T06:59:59+00:00"
    converted_fraction: float = 0.05
    deleted_fraction: float = 0.05
    shared_second_fraction: float = 0.10
    bulk_job_seconds: float = 1.0
    bulk_page_size: int = 200_000
    bulk_fail: float = 0.0
    bulk_result_ttl_seconds: float = 86_400.0
    bulk_downloads_per_minute: int = 10
    bulk_job_credits: int = 50
    churn_every_calls: int | None = None
    churn_interval_ms: float | None = None
    churn_modules: tuple[str, ...] = ("Leads", "Contacts", "Deals")
    fail_garbage: float = 0.0
    garbage_kind: str = "mixed"
    fail_garbage_after_calls: int = 0
    deleted_loop: bool = False
    token_cycle: bool = False
    coql_max_fields: int = 50
    coql_system_keys: bool = True
    daily_credits: int | None = None
    max_concurrent_calls: int | None = None

    def size_of(self, module: str, *, supported: bool = True) -> int:
        """Return how many records a module starts with.

        Args:
            module: Module API name.
            supported: Whether the module is reachable through the API at all.

        Returns:
            The configured size, the default for the module, or 0 for unsupported modules.
        """
        if not supported:
            return 0
        if module in self.sizes:
            return max(0, int(self.sizes[module]))
        return DEFAULT_SIZES.get(module, DEFAULT_OTHER_SIZE)
