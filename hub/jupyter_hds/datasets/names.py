"""Dataset names and references: `name` (its current version) or `name@version`."""

from __future__ import annotations

import re
from dataclasses import dataclass

DATASET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
VERSION = re.compile(r"^[1-9][0-9]{0,8}$")


def check_name(name: str) -> str:
    """`name` when it can name a dataset folder, else a ValueError that says what to write."""
    if not isinstance(name, str) or not DATASET_NAME.match(name):
        raise ValueError(
            f"{name!r} cannot name a dataset: use lowercase letters, digits, '-' and '_' "
            "(at most 63, starting with a letter or digit), not a path"
        )
    return name


@dataclass(frozen=True)
class Reference:
    """A dataset a project names: `version` None means the current (highest) version."""

    name: str
    version: int | None = None

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"


def parse_reference(text: str) -> Reference:
    """`name` or `name@version` (version 1, 2, ...); ValueError with the accepted forms."""
    name, sep, version = str(text).partition("@")
    check_name(name)
    if not sep:
        return Reference(name)
    if not VERSION.match(version):
        raise ValueError(
            f"{text!r}: write a dataset as NAME or NAME@VERSION with VERSION 1, 2, ..."
        )
    return Reference(name, int(version))
