"""Authentication strength (`acr`): the levels a hub knows, weakest first, and the check."""

from __future__ import annotations

from collections.abc import Sequence


class AcrTooWeak(Exception):
    """The login was made at a level below the hub's minimum (or at none the hub knows)."""

    def __init__(self, acr: str | None, minimum: str):
        self.acr = acr
        self.minimum = minimum
        super().__init__(f"acr {acr!r} is weaker than the required {minimum!r}")


def accepted_levels(levels: Sequence[str], minimum: str) -> list[str]:
    """The levels at or above `minimum`, from `levels` ordered weakest first."""
    if minimum not in levels:
        raise ValueError(f"minimum acr {minimum!r} is not one of the known levels {list(levels)}")
    return list(levels[levels.index(minimum) :])


def check_acr(acr: object, levels: Sequence[str], minimum: str) -> str:
    """Return `acr` when it is `minimum` or stronger; raise AcrTooWeak otherwise.

    A missing acr, or one the hub does not know, is refused: an unknown level cannot be
    ranked, and a provider that ignored the request for a level must not get through.
    """
    if not isinstance(acr, str) or acr not in accepted_levels(levels, minimum):
        raise AcrTooWeak(acr if isinstance(acr, str) else None, minimum)
    return acr
