"""Reading claims: a dotted path into nested claims, and the provider groups they list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def lookup(claims: Mapping[str, Any], path: str) -> Any:
    """The value at dotted `path` (`realm_access.roles`), or None when any step is missing."""
    value: Any = claims
    for step in path.split("."):
        if not isinstance(value, Mapping) or step not in value:
            return None
        value = value[step]
    return value


def provider_groups(claims: Mapping[str, Any], path: str) -> set[str]:
    """The group names at `path`: a list of names, or one name.

    Keycloak's full group paths (`/hds-admins`) lose their leading slash, so config names
    groups the same way whatever the mapper sends. Anything else there yields no group.
    """
    value = lookup(claims, path)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return set()
    return {item.lstrip("/") for item in value if isinstance(item, str) and item.strip("/")}
