"""Must this person accept the terms of use before a server starts: the one question, asked by
the spawner (refuse), the home page (a banner) and the hosting team's overview (a column)."""

from __future__ import annotations

from dataclasses import dataclass

from traitlets.config import Config

from ..branding import Branding, Terms
from ..deployment import Deployment
from .store import Acceptances

PAGE = "hds/terms"


@dataclass(frozen=True)
class TermsInForce:
    """The terms in force on a hub (None: it has none) and who accepted what."""

    terms: Terms | None
    acceptances: Acceptances

    @classmethod
    def of(cls, config: Config) -> TermsInForce:
        terms = Branding(config=config).terms()
        return cls(terms, Acceptances(Deployment(config=config).terms_acceptances))

    def pending(self, user: str) -> Terms | None:
        """The terms `user` must accept before a server starts; None when nothing is due."""
        if self.terms is None or self.acceptances.has_accepted(user, self.terms.version):
            return None
        return self.terms

    def not_accepted(self, users: list[str]) -> list[str]:
        """Which of `users` have not accepted the version in force, sorted."""
        return sorted(user for user in users if self.pending(user))
