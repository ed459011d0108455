"""Handing a composed email to the outbound mail server, and what its answers mean.

SMTP has no "429": a server that wants us to slow down answers 4xx like any other temporary
failure, so everything temporary is a TransientSendError and the outbox retries with backoff.

``login_problem`` connects and logs in exactly as a send does, without sending, for
``hub channels check``.
"""

from __future__ import annotations

import socket
import ssl
from contextlib import suppress
from email.message import EmailMessage

import aiosmtplib

from channels.contract import PermanentSendError, TransientSendError
from channels.email.settings import OutboundSmtp, SmtpSecurity

BAD_CREDENTIALS = "the mail server rejected the username or password"


def _server_words(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"


def _refusal(code: int, message: str, what: str) -> PermanentSendError | TransientSendError:
    words = _server_words(code, message)
    if 400 <= code < 500:
        return TransientSendError(f"the mail server deferred {what}: {words}")
    return PermanentSendError(f"the mail server refused {what}: {words}")


def _tls_failure(error: ssl.SSLError) -> PermanentSendError:
    # Setup problems (a private CA missing from ca_file, "ssl" against a STARTTLS port) that
    # retrying will not fix.
    if isinstance(error, ssl.SSLCertVerificationError):
        return PermanentSendError(f"the mail server's TLS certificate is not trusted: {error.verify_message}")
    return PermanentSendError(
        f"TLS with the mail server failed ({error.reason or error}); check smtp.security and smtp.port"
    )


async def submit(message: EmailMessage, smtp: OutboundSmtp) -> None:
    """Send ``message`` to its To address; PermanentSendError or TransientSendError on failure."""
    password = smtp.password.get_secret_value() if smtp.password is not None else None
    try:
        await aiosmtplib.send(
            message,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=password,
            use_tls=smtp.security is SmtpSecurity.SSL,
            # False rather than None for "none": None would upgrade whenever the server offers it.
            start_tls=smtp.security is SmtpSecurity.STARTTLS,
            validate_certs=smtp.validate_certs,
            cert_bundle=str(smtp.ca_file) if smtp.ca_file else None,
            timeout=smtp.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refused = exc.recipients[0]
        raise _refusal(refused.code, refused.message, f"the recipient {refused.recipient}") from None
    except aiosmtplib.SMTPAuthenticationError as exc:
        if 400 <= exc.code < 500:  # 454: temporary authentication failure
            words = _server_words(exc.code, exc.message)
            raise TransientSendError(f"the mail server could not check the login now: {words}") from None
        raise PermanentSendError(BAD_CREDENTIALS) from None
    except aiosmtplib.SMTPSenderRefused as exc:
        raise _refusal(exc.code, exc.message, f"the sender {exc.sender}") from None
    except aiosmtplib.SMTPResponseException as exc:
        raise _refusal(exc.code, exc.message, "the message") from None
    except aiosmtplib.SMTPTimeoutError:
        raise TransientSendError(f"the mail server {smtp.host}:{smtp.port} did not answer in time") from None
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected) as exc:
        # Implicit TLS wraps a failed handshake in a connect error.
        if isinstance(exc.__cause__, ssl.SSLError):
            raise _tls_failure(exc.__cause__) from None
        raise TransientSendError(f"could not reach the mail server: {exc.message}") from None
    except ssl.SSLError as exc:  # STARTTLS lets it through as it is
        raise _tls_failure(exc) from None
    except aiosmtplib.SMTPException as exc:
        # What is left is the server lacking something the settings require (STARTTLS, AUTH,
        # SMTPUTF8 for a non-ASCII address): fixing the settings or the server is the only cure.
        raise PermanentSendError(f"the mail server cannot send this message: {exc.message}") from None
    except OSError as exc:  # the connection dropped mid-way (during the STARTTLS handshake, say)
        raise TransientSendError(f"the connection to the mail server failed: {exc}") from None


async def login_problem(smtp: OutboundSmtp) -> str | None:
    """Connect to the outbound server with the configured security and log in, as a send would;
    None when that works, otherwise what failed (DNS, refused, TLS, login), in plain words."""
    client = aiosmtplib.SMTP(
        hostname=smtp.host,
        port=smtp.port,
        username=smtp.username,
        password=smtp.password.get_secret_value() if smtp.password is not None else None,
        use_tls=smtp.security is SmtpSecurity.SSL,
        start_tls=smtp.security is SmtpSecurity.STARTTLS,
        validate_certs=smtp.validate_certs,
        cert_bundle=str(smtp.ca_file) if smtp.ca_file else None,
        timeout=smtp.timeout,
    )
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError) as exc:
        return _login_failure(exc, smtp)
    with suppress(aiosmtplib.SMTPException, OSError):
        await client.quit()
    return None


def _login_failure(exc: aiosmtplib.SMTPException | OSError, smtp: OutboundSmtp) -> str:
    """Why connecting or logging in failed, naming the setting to look at."""
    where = f"the mail server {smtp.host}:{smtp.port}"
    cause = exc.__cause__
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        if 400 <= exc.code < 500:
            return f"{where} could not check the login now: {_server_words(exc.code, exc.message)}"
        return f"{where} rejected smtp.username and smtp.password ({_server_words(exc.code, exc.message)})"
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return f"{where} did not answer within {smtp.timeout:g} s: check smtp.host, smtp.port and firewalls"
    tls_error = exc if isinstance(exc, ssl.SSLError) else cause
    if isinstance(tls_error, ssl.SSLError):
        return f"{_tls_failure(tls_error)} ({smtp.host}:{smtp.port})"
    if isinstance(cause, socket.gaierror):
        return f"the mail server's name {smtp.host} cannot be found (DNS: {cause.strerror}): check smtp.host"
    if isinstance(cause, ConnectionRefusedError):
        return f"nothing accepts connections at {smtp.host}:{smtp.port}: check smtp.host and smtp.port"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{where} answered {_server_words(exc.code, exc.message)}"
    if isinstance(exc, aiosmtplib.SMTPException):
        return f"{where} cannot do what the settings ask (smtp.security, smtp.username): {exc.message}"
    return f"the connection to {where} failed: {exc}"
