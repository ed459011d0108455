"""Settings of one email account in hub.yaml.

Example::

    support_mail:
      type: email
      address: support@example.com
      display_name: Example Support
      smtp: {host: smtp.example.com, port: 587, username: support@example.com,
             password: "${SMTP_PASSWORD}", security: starttls}
      inbound_smtp: {enabled: true, host: 127.0.0.1, port: 2525}
      imap: {host: imap.example.com, port: 993, username: support@example.com,
             password: "${IMAP_PASSWORD}", ssl: true, poll_seconds: 60}
      trusted_authserv_id: mx.example.com
"""

from __future__ import annotations

from email.errors import HeaderParseError
from email.headerregistry import Address
from enum import StrEnum
from typing import Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from channels.spec import ChannelSettings


def normalise_address(value: str) -> str:
    """``local@domain`` lowercased; ValueError with a plain sentence when it is not an address."""
    candidate = value.strip()
    try:
        parsed = Address(addr_spec=candidate)
    except (HeaderParseError, ValueError, IndexError):
        # IndexError: the stdlib's addr-spec parser indexes past the end on "user@".
        raise ValueError(f"{value!r} is not an email address (expected name@domain)") from None
    if not parsed.username or not parsed.domain:
        raise ValueError(f"{value!r} is not an email address (expected name@domain)")
    return parsed.addr_spec.lower()


class SmtpSecurity(StrEnum):
    """How the outbound connection is protected."""

    STARTTLS = "starttls"  # plain connection upgraded with STARTTLS (port 587); refused if not offered
    SSL = "ssl"  # implicit TLS from the first byte (port 465)
    NONE = "none"  # no TLS at all: only for a relay on localhost or a test server


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OutboundSmtp(_Section):
    """The mail server (submission or relay) that sends our replies."""

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    validate_certs: bool = True
    # PEM certificates trusted besides the system's (a relay with a private CA).
    ca_file: FilePath | None = None
    timeout: float = Field(default=30.0, gt=0)
    # Relays differ by orders of magnitude (Amazon SES sandbox 1/s, production 14/s and up; a Gmail
    # account about 2000 a day), so the account says what its relay allows.
    max_per_second: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _credentials_come_in_pairs(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("smtp.username and smtp.password must be given together (or both left out)")
        return self


class InboundSmtp(_Section):
    """Our own SMTP server receiving mail, usually behind the organisation's MTA (Postfix relays
    to it) or on a trusted network. It offers neither AUTH nor TLS."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=0, le=65535)  # 0: the OS picks a free port
    max_size_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    # Empty means "the account address only"; EmailSettings fills it in.
    allowed_recipients: tuple[str, ...] = ()

    @field_validator("allowed_recipients", mode="before")
    @classmethod
    def _lowercase_recipients(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return tuple(normalise_address(str(item)) for item in value)
        return value


class ImapMailbox(_Section):
    """A mailbox polled for unseen messages (when mail is delivered to a provider such as Gmail)."""

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    username: str = Field(min_length=1)
    password: SecretStr
    mailbox: str = Field(default="INBOX", min_length=1)
    # True: implicit TLS (993). False: plain text (143); only for localhost or a test server.
    ssl: bool = True
    validate_certs: bool = True
    ca_file: FilePath | None = None
    poll_seconds: float = Field(default=60.0, gt=0)
    timeout: float = Field(default=30.0, gt=0)


class EmailSettings(ChannelSettings):
    """One email account: the address, how we send, and how mail reaches us."""

    type: Literal["email"] = "email"
    address: str
    display_name: str | None = None
    smtp: OutboundSmtp
    inbound_smtp: InboundSmtp | None = None
    imap: ImapMailbox | None = None
    # The authserv-id of our own MTA (the first word of the Authentication-Results header it adds,
    # e.g. "mx.google.com" for Gmail). Only that MTA's verdict can mark a sender as verified.
    trusted_authserv_id: str | None = None

    @field_validator("address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        return normalise_address(value)

    @field_validator("display_name")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and ("\r" in value or "\n" in value):
            raise ValueError("display_name must be a single line")
        return value

    @field_validator("api_base")
    @classmethod
    def _no_api_base(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError("email accounts have no api_base; point smtp.host at the mail server instead")
        return value

    @field_validator("inbound_smtp")
    @classmethod
    def _recipients_default_to_the_account(
        cls, value: InboundSmtp | None, info: ValidationInfo
    ) -> InboundSmtp | None:
        # "address" is missing from info.data when it failed its own validation.
        if value is None or value.allowed_recipients or "address" not in info.data:
            return value
        return value.model_copy(update={"allowed_recipients": (info.data["address"],)})

    @property
    def domain(self) -> str:
        """The domain of the account address (Message-IDs are made under it)."""
        return self.address.rpartition("@")[2]

    @property
    def sender(self) -> Address:
        """The From address of everything we send."""
        local, _, domain = self.address.rpartition("@")
        return Address(display_name=self.display_name or "", username=local, domain=domain)
