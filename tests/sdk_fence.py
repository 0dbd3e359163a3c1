"""Checks for a package's fence around singer-sdk's private members (its ``sdk_private``)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import singer_sdk
from singer_sdk import Target
from singer_sdk.pagination import BaseAPIPaginator
from singer_sdk.plugin_base import PluginBase
from singer_sdk.sinks import BatchSink, Sink
from singer_sdk.streams import RESTStream, Stream
from singer_sdk.streams.rest import _HTTPStream

SDK_CLASSES: dict[str, type] = {
    "Stream": Stream,
    "RESTStream": RESTStream,
    "_HTTPStream": _HTTPStream,
    "PluginBase": PluginBase,
    "Tap": singer_sdk.Tap,
    "Target": Target,
    "Sink": Sink,
    "BatchSink": BatchSink,
    "BaseAPIPaginator": BaseAPIPaginator,
}

_ACCESS = re.compile(r"\.(_[A-Za-z][A-Za-z0-9_]*)\b")
_DEFINES = re.compile(r"^\s*def (_[A-Za-z][A-Za-z0-9_]*)\(", re.M)


def _source(cls: type) -> str:
    return "\n".join(
        inspect.getsource(base) for base in cls.__mro__ if base.__module__.startswith("singer_sdk")
    )


def missing_members(declared: dict[str, tuple[str, ...] | None]) -> list[str]:
    """Declared members singer-sdk no longer has with the declared shape."""
    problems = []
    for qualified, parameters in declared.items():
        class_name, member = qualified.split(".", 1)
        cls = SDK_CLASSES[class_name]
        if parameters is None:
            if not hasattr(cls, member) and f"self.{member}" not in _source(cls):
                problems.append(f"{qualified} is gone")
            continue
        method = getattr(cls, member, None)
        if method is None:
            problems.append(f"{qualified} is gone")
        elif tuple(inspect.signature(method).parameters) != parameters:
            problems.append(f"{qualified} now takes {tuple(inspect.signature(method).parameters)}")
    return problems


TAP_BASES = ("Tap", "Stream", "RESTStream", "_HTTPStream", "BaseAPIPaginator")
TARGET_BASES = ("Target", "Sink", "BatchSink")


def sdk_private_names(bases: tuple[str, ...]) -> set[str]:
    """Every private name these singer-sdk base classes (and theirs) define or set."""
    names: set[str] = set()
    for cls in (SDK_CLASSES[name] for name in bases):
        for base in cls.__mro__:
            if base.__module__.startswith("singer_sdk"):
                names.update(n for n in vars(base) if n.startswith("_") and not n.startswith("__"))
        names.update(re.findall(r"self\.(_[A-Za-z][A-Za-z0-9_]*)\s*[:=]", _source(cls)))
    return names


def undeclared_uses(
    package: Path, declared: dict[str, tuple[str, ...] | None], bases: tuple[str, ...]
) -> list[str]:
    """Private singer-sdk names the package's code uses but its fence does not declare.

    A name the package defines itself (its own private helper) is not singer-sdk's unless the
    SDK has it too, in which case it is an override and must be declared.
    """
    sdk = sdk_private_names(bases)
    declared_names = {qualified.split(".", 1)[1] for qualified in declared}
    found = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text()
        used = set(_ACCESS.findall(text)) | set(_DEFINES.findall(text))
        found.extend(f"{path}: {name}" for name in sorted(used & sdk) if name not in declared_names)
    return found
