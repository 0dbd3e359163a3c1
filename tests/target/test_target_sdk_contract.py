"""The private singer-sdk members the target uses still exist, and it uses no undeclared one."""

from __future__ import annotations

from pathlib import Path

from sdk_fence import TARGET_BASES, missing_members, undeclared_uses

import target_sqlite_audit
from target_sqlite_audit.sdk_private import PRIVATE_MEMBERS


def test_every_declared_private_member_still_exists_with_its_shape():
    assert missing_members(PRIVATE_MEMBERS) == []


def test_the_target_uses_no_private_member_its_fence_does_not_declare():
    assert (
        undeclared_uses(Path(target_sqlite_audit.__file__).parent, PRIVATE_MEMBERS, TARGET_BASES)
        == []
    )


def test_a_renamed_member_is_reported():
    assert missing_members({"Target._process_record_messages": ("self",)}) == [
        "Target._process_record_messages is gone"
    ]
