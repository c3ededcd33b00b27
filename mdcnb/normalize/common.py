"""Helpers shared by the normalisers: case-insensitive JSON access, Azure's string booleans, ISO-8601
durations, ARM id parsing and canonical enum spellings.

Azure returns the same record with different key casing depending on the API (Resource Graph rows use
`resourceDetails.Source`/`Id`, REST uses `source`/`id`) and the same enum value in different cases
(`failed` vs `Failed`, `Aws` vs `AWS`), so every read here ignores case.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any


class RecordError(ValueError):
    """A raw record that cannot be turned into a row; the reason ends up in the `skips` table."""


# Values kept as given: JSON objects carried into the tables as data (`tags`, extension properties), whose keys
# are the user's or the service's; connector offerings, whose key paths name features (`vmScanners.configuration`);
# an assessment's inline metadata (folded once per recommendation, not once per assessment) and its unused
# per-initiative statuses.
_VERBATIM = frozenset({"tags", "additionalextensionproperties", "offerings", "metadata", "statusperinitiative"})
_CONTAINERS = (dict, list)


# How deep a record may nest. Azure's records nest about ten levels; a deeper one is damage or an attack, and
# walking it would exhaust Python's recursion limit (about 1,000 frames).
MAX_DEPTH = 64


def fold(value: Any, depth: int = 0) -> Any:
    """A JSON value with every object key lower-cased (recursively, except verbatim data objects).

    Azure spells the same key differently per API (`resourceDetails.Source` in Resource Graph, `source` in REST);
    folding once per record makes every later lookup an exact, fast dictionary get. A value nested deeper than
    `MAX_DEPTH` levels (verbatim objects included) is a RecordError.
    """
    if depth >= MAX_DEPTH:
        raise RecordError(f"nested deeper than {MAX_DEPTH} levels")
    if type(value) is dict:
        return {low: item if type(item) not in _CONTAINERS else _checked_depth(item, depth + 1) if low in _VERBATIM
                else fold(item, depth + 1)
                for key, item in value.items() for low in (key.lower() if type(key) is str else key,)}
    if type(value) is list:
        return [fold(item, depth + 1) if type(item) in _CONTAINERS else item for item in value]
    return value


def _checked_depth(value: Any, depth: int) -> Any:
    """`value` unchanged (a verbatim object), or a RecordError when it nests beyond `MAX_DEPTH` (walked without
    recursion)."""
    stack = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if level >= MAX_DEPTH:
            raise RecordError(f"nested deeper than {MAX_DEPTH} levels")
        children = item.values() if type(item) is dict else item
        stack.extend((child, level + 1) for child in children if type(child) in _CONTAINERS)
    return value


# Where the normaliser driver keeps a record's lower-cased id beside the record's own `id` (which keeps its case:
# compliance ids carry standard and control names). Not a JSON key any service sends.
LOWER_ID = "\x00id"


def field(obj: Any, *path: str, default: Any = None) -> Any:
    """`obj[path[0]][path[1]]...`: each key as written, else in lower case.

    On a record passed through `fold` (as every normaliser receives it) this ignores key case entirely; on a
    raw record it matches the exact or the lower-case spelling. Returns `default` when any step is missing,
    null or not an object (never raises on odd shapes).
    """
    for key in path:
        if type(obj) is not dict:
            return default
        value = obj.get(key)
        obj = obj.get(key.lower()) if value is None else value
        if obj is None:
            return default
    return obj


def first_field(obj: Any, *paths: tuple[str, ...] | str) -> Any:
    """The first non-empty value among several alternative paths (a str is a one-key path)."""
    for path in paths:
        value = field(obj, *((path,) if isinstance(path, str) else path))
        if value not in (None, "", [], {}):
            return value
    return None


def text(value: Any) -> str | None:
    """A non-empty string, or None."""
    if value is None:
        return None
    value = (value if type(value) is str else str(value)).strip()
    return value or None



def lower(value: Any) -> str | None:
    value = text(value)
    return value.lower() if value else None


def to_bool(value: Any) -> bool | None:
    """Azure booleans: real booleans, or the strings `"True"`/`"False"` in any case; anything else is None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        folded = value.strip().casefold()
        if folded in ("true", "1", "yes"):
            return True
        if folded in ("false", "0", "no"):
            return False
    return None


def to_number(value: Any) -> float | None:
    """A finite number from an int, a float or a numeric string; None when absent (null or "").

    Anything else is a RecordError: text that is no number, a boolean, and NaN or infinity (spelled `"NaN"`,
    `"Infinity"`, `"1e999"`), which would otherwise flow into sums and averages and move them silently.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError(f"expected a number, got {value!r}")
    try:
        number = float(value if isinstance(value, (int, float)) else str(value).strip())
    except (ValueError, OverflowError):
        raise RecordError(f"expected a number, got {_short(value)}") from None
    if not math.isfinite(number):
        raise RecordError(f"expected a finite number, got {_short(value)}")
    return number


def to_int(value: Any) -> int | None:
    """A count or weight (`5`, `5.0`, `"5"`): a whole number from 0 to 2**63 - 1 (what the tables' Int64 holds);
    None when absent; anything else (fractional, negative, out of range, no number) is a RecordError."""
    if type(value) is int:
        number: float | int = value
    else:
        number = to_number(value)
        if number is None:
            return None
        if not number.is_integer():
            raise RecordError(f"expected a whole number, got {_short(value)}")
    if not 0 <= number < 2**63:
        raise RecordError(f"expected a count from 0 to 2**63 - 1, got {_short(value)}")
    return int(number)


def _short(value: Any) -> str:
    """A value for a message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_DAYS_PER = {"weeks": 7.0, "days": 1.0, "hours": 1 / 24, "minutes": 1 / 1440, "seconds": 1 / 86400}


def duration_days(value: Any) -> float | None:
    """An ISO-8601 duration such as `PT0S` or `P26DT17H24M` in days; None when absent or unreadable."""
    value = text(value)
    if value is None:
        return None
    match = _DURATION.match(value)
    if not match or value.upper() in ("P", "PT"):
        return None
    return sum(float(n) * _DAYS_PER[unit] for unit, n in match.groupdict().items() if n is not None)


def canonical(value: Any, choices: Iterable[str], *, aliases: Mapping[str, str] | None = None) -> str | None:
    """The canonical spelling of an enum value (case-insensitive match); unknown values keep their spelling."""
    value = text(value)
    if value is None:
        return None
    folded = value.casefold()
    for choice in choices:
        if choice.casefold() == folded:
            return choice
    if aliases:
        for alias, choice in aliases.items():
            if alias.casefold() == folded:
                return choice
    return value


def require(value: Any, what: str) -> Any:
    """`value`, or a RecordError saying which required field is missing."""
    if value in (None, ""):
        raise RecordError(f"missing {what}")
    return value


# ---------------------------------------------------------------- ARM ids

_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
_RESOURCE_GROUP = re.compile(r"/resourcegroups/([^/]+)", re.IGNORECASE)


def subscription_of(resource_id: Any) -> str | None:
    """The subscription GUID an ARM id belongs to, lower case."""
    match = _SUBSCRIPTION.match(text(resource_id) or "")
    return match.group(1).lower() if match else None


def resource_group_of(resource_id: Any) -> str | None:
    match = _RESOURCE_GROUP.search(text(resource_id) or "")
    return match.group(1).lower() if match else None


def split_provider_suffix(resource_id: str, provider_type: str) -> tuple[str, list[str]] | None:
    """Split `<scope>/providers/<provider_type>/<a>/<b>...` into (scope, [a, b, ...]), case-insensitively.

    `provider_type` is e.g. `Microsoft.Security/pricings`. The last occurrence is used, since the scope
    itself can contain `/providers/` (a resource id). Returns None when the id does not have that form.
    """
    marker = f"/providers/{provider_type}/".lower()
    position = resource_id.lower().rfind(marker)
    if position < 0:
        return None
    if not resource_id.isascii():  # a character whose lower case is longer (İ -> i̇) shifts the lower-cased id
        position = _unlowered(resource_id, position)
    rest = resource_id[position + len(marker):].strip("/")
    return resource_id[:position], rest.split("/") if rest else []


def _unlowered(value: str, position: int) -> int:
    """The position in `value` of the character whose lower case starts at `position` of `value.lower()`."""
    lowered = 0
    for index, char in enumerate(value):
        if lowered >= position:
            return index
        lowered += len(char.lower())
    return len(value)


def segment_after(resource_id: Any, name: str) -> str | None:
    """The id segment following `/<name>/` (case-insensitive), e.g. the standard of a compliance control id."""
    parts = (text(resource_id) or "").split("/")
    folded = name.casefold()
    for i, part in enumerate(parts[:-1]):
        if part.casefold() == folded:
            return parts[i + 1] or None
    return None


def last_segment(resource_id: Any) -> str | None:
    value = text(resource_id)
    return value.rstrip("/").rsplit("/", 1)[-1] or None if value else None


def arm_type(resource_id: Any) -> str | None:
    """The ARM resource type of an id, lower case (`microsoft.compute/virtualmachines`), from its last provider."""
    value = text(resource_id)
    if value is None:
        return None
    parts = value.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        if len(parts) == 2 and lowered[0] == "subscriptions":
            return "microsoft.resources/subscriptions"
        if len(parts) == 4 and lowered[2] == "resourcegroups":
            return "microsoft.resources/resourcegroups"
        return None
    start = len(lowered) - 1 - lowered[::-1].index("providers")
    namespace, tail = lowered[start + 1:start + 2], lowered[start + 2:]
    if not namespace or not tail:
        return None
    types = tail[0::2]  # type/name/subtype/subname...
    return "/".join(namespace + types)


ENVIRONMENTS = ("Azure", "AWS", "GCP", "Github", "AzureDevOps", "GitLab", "DockerHub", "JFrog", "OnPremise",
                "OnPremiseSql")
ENVIRONMENT_ALIASES = {"GitHub": "Github", "Amazon": "AWS", "GoogleCloud": "GCP"}


def environment(value: Any) -> str | None:
    """Canonical environment / resource source name (`Aws` -> `AWS`, `gcp` -> `GCP`, `azure` -> `Azure`)."""
    return canonical(value, ENVIRONMENTS, aliases=ENVIRONMENT_ALIASES)


def string_list(value: Any) -> list[str]:
    """A list of non-empty strings from a list (other values dropped) or a single string."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v not in (None, "")]
    return []
