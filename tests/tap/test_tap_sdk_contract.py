"""The private singer-sdk members the tap uses still exist, and it uses no undeclared one."""

from __future__ import annotations

from pathlib import Path

from sdk_fence import TAP_BASES, missing_members, undeclared_uses

import tap_zohocrm
from tap_zohocrm.sdk_private import FINAL_OVERRIDES, PRIVATE_MEMBERS


def test_every_declared_private_member_still_exists_with_its_shape():
    assert missing_members(PRIVATE_MEMBERS) == []


def test_the_tap_uses_no_private_member_its_fence_does_not_declare():
    assert undeclared_uses(Path(tap_zohocrm.__file__).parent, PRIVATE_MEMBERS, TAP_BASES) == []


def test_the_final_sdk_methods_the_tap_overrides_keep_their_shape():
    assert missing_members(dict(FINAL_OVERRIDES)) == []
