"""The one refusal: what was asked cannot be done, why, what fixes it, and the HTTP status."""

from __future__ import annotations


class Refused(Exception):
    """A decision of the policy core against what someone asked.

    `reason` is a stable code (auditors filter on it: `not-member`, `expired`,
    `quota-running`, ...), `message` the sentence the person reads, `fix` what they (or an
    administrator) can do about it, `status` the HTTP status an adapter answers with.
    `str()` is the message followed by the fix.
    """

    def __init__(self, reason: str, message: str, fix: str = "", *, status: int = 403):
        self.reason, self.message, self.fix, self.status = reason, message, fix, status
        super().__init__(f"{message} {fix}".strip())

    def details(self) -> dict[str, str | int]:
        """What an audit event records about the refusal."""
        return {"reason": self.reason, "why": self.message, "fix": self.fix}
