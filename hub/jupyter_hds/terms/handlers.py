"""/hub/hds/terms: read the terms of use in force and accept them (an audit event each time)."""

from __future__ import annotations

import asyncio

import mistune
from jupyterhub.handlers.base import BaseHandler
from tornado import web

from .. import events
from ..audit.hub import client_address
from .check import PAGE, TermsInForce

# Raw HTML in the operator's Markdown is shown as text: the page runs on the hub's origin.
MARKDOWN = mistune.create_markdown(escape=True)


class TermsHandler(BaseHandler):
    """GET: the terms and whether you accepted them; POST: accept the version shown."""

    def in_force(self) -> TermsInForce:
        found = TermsInForce.of(self.settings["config"])
        if found.terms is None:
            raise web.HTTPError(404, "This hub has no terms of use.")
        return found

    def next_url(self) -> str:
        """Where to go once accepted: a page of this hub only, else the home page."""
        target = self.get_argument("next", "")
        base = self.hub.base_url
        if target.startswith(base) and "//" not in target and "\\" not in target:
            return target
        return f"{base}home"

    @web.authenticated
    async def get(self):
        found = self.in_force()
        accepted = found.acceptances.of(self.current_user.name)
        html = await self.render_template(
            "hds_terms.html",
            terms=found.terms,
            terms_html=MARKDOWN(found.terms.text),
            accepted=accepted if accepted and accepted.version == found.terms.version else None,
            next_url=self.next_url(),
        )
        self.finish(html)

    @web.authenticated
    async def post(self):
        found = self.in_force()
        terms = found.terms
        if self.get_body_argument("version", "") != terms.version:
            # The page was read before the terms changed: show the new ones.
            self.redirect(f"{self.hub.base_url}{PAGE}?next={self.next_url()}")
            return
        user = self.current_user.name
        await asyncio.to_thread(found.acceptances.accept, user, terms.version, terms.sha256)
        events.emit(
            "terms.accepted",
            actor=user,
            outcome="succeeded",
            target=f"terms {terms.version}",
            source=client_address(self.request),
            details={"version": terms.version, "sha256": terms.sha256},
        )
        self.redirect(self.next_url())


HANDLERS = [(rf"/{PAGE}", TermsHandler)]
