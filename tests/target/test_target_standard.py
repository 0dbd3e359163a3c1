"""singer-sdk's standard target test suite, run against target-sqlite-audit."""

from __future__ import annotations

import tempfile
from pathlib import Path

from singer_sdk.testing import get_target_test_class

from target_sqlite_audit.target import TargetSqliteAudit

# The suite builds its config once, at import; every standard test writes to this file
# (each uses its own streams).  A fresh directory per test session keeps runs apart.
_DATABASE = Path(tempfile.mkdtemp(prefix="target-sqlite-audit-std-")) / "standard.sqlite"

TestTargetSqliteAuditStandard = get_target_test_class(
    TargetSqliteAudit,
    config={"database": str(_DATABASE)},
)
