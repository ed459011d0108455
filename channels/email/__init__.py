"""The email channel: an own SMTP server and/or IMAP polling inbound, SMTP outbound."""

from __future__ import annotations

from channels.contract import ChannelContext
from channels.email.adapter import EmailAdapter
from channels.email.settings import EmailSettings
from channels.spec import ChannelSpec


def build(settings: EmailSettings, context: ChannelContext) -> EmailAdapter:
    """The adapter of one configured email account."""
    return EmailAdapter(settings, context)


SPEC = ChannelSpec(
    type="email",
    settings=EmailSettings,
    build=build,
    description="Email: an own SMTP server or IMAP polling for inbound mail, an SMTP relay for replies.",
)

__all__ = ["SPEC", "EmailAdapter", "EmailSettings"]
