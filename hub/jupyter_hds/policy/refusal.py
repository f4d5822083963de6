"""The one refusal: what was asked cannot be done, why, what fixes it, and the HTTP status."""

from __future__ import annotations

from .text import Gettext, Joined, Ngettext, Text, as_text


class Refused(Exception):
    """A decision of the policy core against what someone asked.

    `reason` is a stable code (auditors filter on it: `not-member`, `expired`,
    `quota-running`, ...), `message` the sentence the person reads, `fix` what they (or an
    administrator) can do about it, `status` the HTTP status an adapter answers with.
    `str()` is the message followed by the fix, in English (what logs and the audit record
    keep); `translate(gettext, ngettext)` is the same in the reader's language.
    """

    def __init__(
        self, reason: str, message: Text | str, fix: Text | str = "", *, status: int = 403
    ):
        self.reason, self.status = reason, status
        self.message_text, self.fix_text = as_text(message), as_text(fix)
        self.message, self.fix = str(message), str(fix)
        super().__init__(f"{self.message} {self.fix}".strip())

    @property
    def text(self) -> Text:
        """The message and the fix, as one Text."""
        return Joined([self.message_text, self.fix_text], " ")

    def translate(self, gettext: Gettext, ngettext: Ngettext) -> str:
        return self.text.translate(gettext, ngettext)

    def details(self) -> dict[str, str | int]:
        """What an audit event records about the refusal."""
        return {"reason": self.reason, "why": self.message, "fix": self.fix}
