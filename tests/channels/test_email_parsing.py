"""Inbound emails as real mail clients and servers write them, through EmailAdapter.parse."""

# The samples are Ukrainian text, whose letters ruff takes for look-alikes of Latin ones.
# ruff: noqa: RUF001

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from channels.contract import (
    Address,
    Attachment,
    ChannelContext,
    DeliveryReceipt,
    DeliveryStatus,
    IdentityKind,
    InboundMessage,
    MalformedEvent,
    WebhookRequest,
)
from channels.email import SPEC, EmailAdapter, EmailSettings


def make_adapter(**overrides: object) -> EmailAdapter:
    settings = EmailSettings.model_validate(
        {
            "type": "email",
            "address": "support@example.com",
            "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none"},
            **overrides,
        }
    )
    adapter = SPEC.build(
        settings, ChannelContext(account="support_mail", public_url="https://hub.example.com")
    )
    assert isinstance(adapter, EmailAdapter)
    return adapter


def smtp_request(raw: bytes, mail_from: str = "olena@example.org") -> WebhookRequest:
    return WebhookRequest(
        method="SMTP",
        url="smtp://support_mail",
        headers={"x-mail-from": mail_from, "x-rcpt-to": "support@example.com"},
        body=raw,
    )


def parse_one(raw: bytes, adapter: EmailAdapter | None = None, **request: str) -> InboundMessage:
    events = (adapter or make_adapter()).parse(smtp_request(raw, **request))
    assert len(events) == 1
    message = events[0]
    assert isinstance(message, InboundMessage)
    return message


# A reply from Gmail: the attribution wrapped over two lines, the quote prefixed with ">".
PLAIN = b"""Received: from mail-ed1-f41.google.com (mail-ed1-f41.google.com [209.85.208.41])
\tby mx.example.com (Postfix) with ESMTPS id 4YRb1Q2xyz
\tfor <support@example.com>; Mon, 06 Jan 2025 10:15:02 +0200 (EET)
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=20230601;
 h=to:subject:message-id:date:from:in-reply-to:references:mime-version; bh=abc=; b=def=
MIME-Version: 1.0
References: <order-41@example.com> <reply-1@example.com>
In-Reply-To: <reply-1@example.com>
From: Olena Petrenko <Olena.Petrenko@Example.ORG>
Date: Mon, 6 Jan 2025 10:15:00 +0200
Message-ID: <CAF=x8Yk1Q2@mail.gmail.com>
Subject: Re: Order 42
To: Example Support <support@example.com>
Cc: accounts@example.org
Content-Type: text/plain; charset="UTF-8"

Thanks! The order number is 42.

On Mon, Jan 6, 2025 at 9:00 AM Example Support <
support@example.com> wrote:

> Could you send us your order number?
>
> Example Support
"""


class TestPlainText:
    def test_every_field_is_normalised(self) -> None:
        message = parse_one(PLAIN)
        assert message == InboundMessage(
            sender=Address(
                IdentityKind.EMAIL,
                "olena.petrenko@example.org",
                verified=False,
                display_name="Olena Petrenko",
            ),
            text="Thanks! The order number is 42.",
            provider_message_id="CAF=x8Yk1Q2@mail.gmail.com",
            sent_at=datetime(2025, 1, 6, 8, 15, tzinfo=UTC),
            subject="Re: Order 42",
            in_reply_to=("reply-1@example.com", "order-41@example.com"),
            metadata={
                "transport": "smtp",
                "envelope_from": "olena@example.org",
                "envelope_to": "support@example.com",
                "to": ["support@example.com"],
                "cc": ["accounts@example.org"],
                "quoted_text": (
                    "On Mon, Jan 6, 2025 at 9:00 AM Example Support <\nsupport@example.com> wrote:\n\n"
                    "> Could you send us your order number?\n>\n> Example Support"
                ),
                "body_type": "text/plain",
            },
        )

    def test_the_date_keeps_the_senders_offset(self) -> None:
        sent_at = parse_one(PLAIN).sent_at
        assert sent_at is not None and sent_at.utcoffset() == timedelta(hours=2)

    def test_unknown_zone_date_is_read_as_utc(self) -> None:
        raw = PLAIN.replace(b"Date: Mon, 6 Jan 2025 10:15:00 +0200", b"Date: Mon, 6 Jan 2025 10:15:00 -0000")
        assert parse_one(raw).sent_at == datetime(2025, 1, 6, 10, 15, tzinfo=UTC)

    def test_unreadable_date_is_none_with_a_note(self) -> None:
        message = parse_one(PLAIN.replace(b"Date: Mon, 6 Jan 2025 10:15:00 +0200", b"Date: last tuesday"))
        assert message.sent_at is None
        assert message.text == "Thanks! The order number is 42."
        assert any("date" in note.lower() for note in message.metadata["parse_notes"])


ALTERNATIVE = b"""From: "Olena" <olena@example.org>
To: support@example.com
Subject: Delivery time
Message-ID: <alt-1@example.org>
Date: Tue, 07 Jan 2025 09:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="000000000000a1b2c3"

--000000000000a1b2c3
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

When will my parcel arrive?
It was due on Friday.

--000000000000a1b2c3
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">When will my <b>parcel</b> arrive?<br>It was due on Friday.</div>

--000000000000a1b2c3--
"""

HTML_ONLY = b"""From: Shop Newsletter Reply <olena@example.org>
To: support@example.com
Subject: Re: Your order
Message-ID: <html-1@example.org>
MIME-Version: 1.0
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

<html><head><title>ignored</title><style>p {color: red}</style></head><body>
<p>Hello,</p><p>The tracking page <a href=3D"https://track.example.net/p/42">says</a> =
it is lost.<br>Please check.</p>
<ul><li>Order 42</li><li>Paid by card</li></ul>
<div class=3D"gmail_quote"><div>On Mon, Jan 6, 2025 at 9:00 AM Example Support &lt;support@exampl=
e.com&gt; wrote:<br></div><blockquote class=3D"gmail_quote"><div>Your order has shipped.</div></blo=
ckquote></div><script>alert("x")</script>
</body></html>
"""


class TestBodies:
    def test_text_plain_is_preferred_over_html(self) -> None:
        message = parse_one(ALTERNATIVE)
        assert message.text == "When will my parcel arrive?\nIt was due on Friday."
        assert message.metadata["body_type"] == "text/plain"
        assert message.attachments == ()  # the HTML alternative is not a file

    def test_html_only_becomes_readable_text_with_links_and_the_quote_set_aside(self) -> None:
        message = parse_one(HTML_ONLY)
        assert message.text == (
            "Hello,\n\nThe tracking page says (https://track.example.net/p/42) it is lost.\nPlease check.\n\n"
            "- Order 42\n- Paid by card"
        )
        assert message.metadata["body_type"] == "text/html"
        assert message.metadata["quoted_text"] == (
            "On Mon, Jan 6, 2025 at 9:00 AM Example Support <support@example.com> wrote:\n\n"
            "> Your order has shipped."
        )


ATTACHMENTS = b"""From: Olena <olena@example.org>
To: support@example.com
Subject: Photo of the damage
Message-ID: <att-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed"

--mixed
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

The box arrived crushed, photo below, invoice attached.
--alt
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>The box arrived crushed, photo below, invoice attached.</p><img src="cid:photo1@example.org">
--rel
Content-Type: image/png; name="box.png"
Content-Disposition: inline; filename="box.png"
Content-ID: <photo1@example.org>
Content-Transfer-Encoding: base64

iVBORw0KGgpmYWtlLWltYWdl
--rel--
--alt--
--mixed
Content-Type: application/pdf; name="invoice-42.pdf"
Content-Disposition: attachment; filename="invoice-42.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQgZmFrZSBpbnZvaWNl
--mixed
Content-Type: message/rfc822
Content-Disposition: attachment

From: Courier <noreply@courier.example.net>
Subject: Delivered
Message-ID: <courier-1@courier.example.net>

Your parcel was delivered.
--mixed--
"""


class TestAttachments:
    def test_files_inline_images_and_forwarded_mail_come_with_their_bytes(self) -> None:
        message = parse_one(ATTACHMENTS)
        assert message.text == "The box arrived crushed, photo below, invoice attached."
        photo, invoice, forwarded = message.attachments
        assert photo == Attachment(
            kind="image",
            filename="box.png",
            content_type="image/png",
            size=18,
            data={"content_id": "photo1@example.org", "inline": True},
            content=b"\x89PNG\r\n\x1a\nfake-image",
        )
        assert invoice == Attachment(
            kind="file",
            filename="invoice-42.pdf",
            content_type="application/pdf",
            size=21,
            content=b"%PDF-1.4 fake invoice",
        )
        assert forwarded.filename == "forwarded-message.eml"
        assert forwarded.content_type == "message/rfc822"
        assert forwarded.content is not None
        assert b"Message-ID: <courier-1@courier.example.net>" in forwarded.content
        assert forwarded.content.rstrip().endswith(b"Your parcel was delivered.")
        assert forwarded.size == len(forwarded.content)


# Ukrainian and Spanish senders: RFC 2047 encoded words in headers, an RFC 2047 filename (what
# Outlook writes), an RFC 2231 filename (what Thunderbird writes), and a windows-1251 body.
ENCODED = b"""From: =?utf-8?b?T2xlbmEgUGV0cmVua28g0KjQtdCy0YfQtdC90LrQvg==?= <olena@example.org>
To: support@example.com
Subject: =?utf-8?b?0JfQsNC80L7QstC70LXQvdC90Y8g4oSWNDIg4oCUINC/0LjRgtCw0L3QvdGP?=
Message-ID: <enc-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=windows-1251
Content-Transfer-Encoding: quoted-printable

=C4=EE=E1=F0=E8=E9 =E4=E5=ED=FC! =C4=E5 =EC=EE=BA =E7=E0=EC=EE=E2=EB=E5=ED=
=ED=FF?
--b1
Content-Type: application/pdf; name="=?utf-8?b?0YDQsNGF0YPQvdC+0Lot0YTQsNC60YLRg9GA0LAucGRm?="
Content-Disposition: attachment; filename="=?utf-8?b?0YDQsNGF0YPQvdC+0Lot0YTQsNC60YLRg9GA0LAucGRm?="
Content-Transfer-Encoding: base64

JVBERi0xLjQgZmFrZSBpbnZvaWNl
--b1
Content-Type: application/pdf
Content-Disposition: attachment; filename*=utf-8''factura%20a%C3%B1o%202024.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQgZmFrZSBpbnZvaWNl
--b1--
"""


class TestEncodings:
    def test_cyrillic_subject_sender_body_and_filenames_are_decoded(self) -> None:
        message = parse_one(ENCODED)
        assert message.subject == "Замовлення №42 — питання"
        assert message.sender.display_name == "Olena Petrenko Шевченко"
        assert message.text == "Добрий день! Де моє замовлення?"
        assert [a.filename for a in message.attachments] == ["рахунок-фактура.pdf", "factura año 2024.pdf"]
        assert "parse_notes" not in message.metadata

    def test_spanish_latin1_subject(self) -> None:
        raw = PLAIN.replace(b"Subject: Re: Order 42", b"Subject: =?iso-8859-1?q?Pregunta_sobre_el_env=EDo?=")
        assert parse_one(raw).subject == "Pregunta sobre el envío"

    def test_wrong_charset_label_is_noted_and_replaced_not_fatal(self) -> None:
        raw = (
            b"From: olena@example.org\nMessage-ID: <cs@example.org>\n"
            b"Content-Type: text/plain; charset=utf-8\n\n" + "Привіт, де посилка?".encode("cp1251")
        )
        message = parse_one(raw)
        assert "\ufffd" in message.text and "," in message.text
        assert message.metadata["parse_notes"] == [
            "the text is not valid utf-8; unreadable bytes were replaced"
        ]

    def test_unlabelled_8bit_text_is_read_as_utf8(self) -> None:
        raw = "From: olena@example.org\nSubject: hola\n\n¿Dónde está mi pedido?".encode()
        message = parse_one(raw)
        assert message.text == "¿Dónde está mi pedido?"
        assert "parse_notes" not in message.metadata


class TestQuotedReplies:
    def test_text_written_between_quoted_lines_is_kept_and_the_quotes_set_aside(self) -> None:
        raw = (
            b"From: olena@example.org\nSubject: Re: questions\n\n"
            b"> What is your order number?\n42\n> And your city?\nKyiv\n"
        )
        message = parse_one(raw)
        assert message.text == "42\nKyiv"
        assert message.metadata["quoted_text"] == "> What is your order number?\n> And your city?"

    def test_outlook_original_message_block_is_history(self) -> None:
        raw = (
            b"From: olena@example.org\nSubject: RE: order\n\nYes, please cancel it.\n\n"
            b"-----Original Message-----\nFrom: Example Support <support@example.com>\n"
            b"Sent: Monday, January 6, 2025 9:00 AM\nSubject: order\n\nShall we cancel the order?\n"
        )
        message = parse_one(raw)
        assert message.text == "Yes, please cancel it."
        assert message.metadata["quoted_text"].startswith("-----Original Message-----\nFrom: Example Support")

    def test_a_sentence_ending_in_wrote_is_not_mistaken_for_an_attribution(self) -> None:
        raw = b"From: olena@example.org\n\nThis is what the courier wrote:\nparcel lost in Lviv.\n"
        message = parse_one(raw)
        assert message.text == "This is what the courier wrote:\nparcel lost in Lviv."
        assert "quoted_text" not in message.metadata

    def test_ukrainian_gmail_attribution(self) -> None:
        raw = (
            "From: olena@example.org\n\nДякую!\n\n"
            "пн, 6 січ. 2025 р. о 09:00 Example Support <support@example.com> пише:\n"
            "> Ваше замовлення відправлено.\n"
        ).encode()
        message = parse_one(raw)
        assert message.text == "Дякую!"
        assert message.metadata["quoted_text"].endswith("> Ваше замовлення відправлено.")

    def test_a_message_that_is_only_a_quote_keeps_its_text(self) -> None:
        message = parse_one(b"From: olena@example.org\n\n> forwarded line one\n> line two\n")
        assert message.text == "> forwarded line one\n> line two"
        assert "quoted_text" not in message.metadata


class TestAutoReplies:
    @pytest.mark.parametrize(
        ("header", "reason"),
        [
            (b"Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
            (b"Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated"),
            (b"X-Autoreply: yes", "X-Autoreply header"),
            (b"X-Autorespond: Out of office", "X-Autorespond header"),
            (b"Precedence: bulk", "Precedence: bulk"),
            (b"Precedence: auto_reply", "Precedence: auto_reply"),
        ],
    )
    def test_machine_replies_are_flagged(self, header: bytes, reason: str) -> None:
        raw = b"From: olena@example.org\n" + header + b"\nSubject: Out of office\n\nI am away until Monday.\n"
        message = parse_one(raw)
        assert message.metadata["auto_reply"] is True
        assert message.metadata["auto_reply_reason"] == reason
        assert message.text == "I am away until Monday."

    def test_null_envelope_sender_is_flagged(self) -> None:
        message = parse_one(b"From: postmaster@example.org\n\nnotice\n", mail_from="<>")
        assert message.metadata["auto_reply_reason"] == "null envelope sender (a bounce or notification)"

    @pytest.mark.parametrize(
        "header", [b"Auto-Submitted: no", b"Precedence: first-class", b"X-Mailer: Outlook"]
    )
    def test_a_person_writing_is_not_flagged(self, header: bytes) -> None:
        message = parse_one(b"From: olena@example.org\n" + header + b"\n\nhello\n")
        assert "auto_reply" not in message.metadata


# A Postfix bounce for a reply we sent (RFC 3464), with the original's headers.
BOUNCE = b"""Return-Path: <>
From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: support@example.com
Subject: Undelivered Mail Returned to Sender
Date: Tue, 7 Jan 2025 10:00:05 +0000 (UTC)
Message-Id: <20250107100005.4YRb1Q2xyz@mx.example.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4YRb1Q2xyz.1736244005/mx.example.com"

--4YRb1Q2xyz.1736244005/mx.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--4YRb1Q2xyz.1736244005/mx.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
X-Postfix-Queue-ID: 4YRb1Q2xyz
Arrival-Date: Tue,  7 Jan 2025 10:00:01 +0000 (UTC)

Final-Recipient: rfc822; nobody@example.org
Original-Recipient: rfc822;nobody@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address
    rejected: User unknown in local recipient table

--4YRb1Q2xyz.1736244005/mx.example.com
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Example Support <support@example.com>
To: nobody@example.org
Subject: Re: Order 42
Message-ID: <5f1c0e7d9a@example.com>
Date: Tue, 7 Jan 2025 10:00:00 +0000

--4YRb1Q2xyz.1736244005/mx.example.com--
"""


class TestBounces:
    def test_failed_delivery_becomes_a_failed_receipt_for_the_original_message(self) -> None:
        events = make_adapter().parse(smtp_request(BOUNCE, mail_from="<>"))
        assert events == [
            DeliveryReceipt(
                provider_message_id="5f1c0e7d9a@example.com",
                status=DeliveryStatus.FAILED,
                error=(
                    "550 5.1.1 <nobody@example.org>: Recipient address rejected: "
                    "User unknown in local recipient table"
                ),
                at=datetime(2025, 1, 7, 10, 0, 5, tzinfo=UTC),
            )
        ]

    def test_without_a_diagnostic_code_the_status_is_the_error(self) -> None:
        raw = BOUNCE.replace(
            b"Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address\n", b""
        )
        raw = raw.replace(b"    rejected: User unknown in local recipient table\n", b"")
        (receipt,) = make_adapter().parse(smtp_request(raw, mail_from="<>"))
        assert isinstance(receipt, DeliveryReceipt)
        assert receipt.error == "delivery failed with status 5.1.1"

    def test_original_attached_as_a_whole_message(self) -> None:
        raw = BOUNCE.replace(b"Content-Type: text/rfc822-headers", b"Content-Type: message/rfc822")
        (receipt,) = make_adapter().parse(smtp_request(raw, mail_from="<>"))
        assert isinstance(receipt, DeliveryReceipt)
        assert receipt.provider_message_id == "5f1c0e7d9a@example.com"

    def test_a_delay_warning_is_not_an_outcome(self) -> None:
        raw = BOUNCE.replace(b"Action: failed", b"Action: delayed").replace(
            b"Status: 5.1.1", b"Status: 4.4.1"
        )
        assert make_adapter().parse(smtp_request(raw, mail_from="<>")) == []

    def test_a_report_that_does_not_name_the_original_is_ignored(self) -> None:
        raw = BOUNCE.replace(b"Message-ID: <5f1c0e7d9a@example.com>\n", b"")
        assert make_adapter().parse(smtp_request(raw, mail_from="<>")) == []


class TestIdentifiers:
    def test_event_id_is_the_message_id_without_brackets(self) -> None:
        assert make_adapter().event_id(smtp_request(PLAIN)) == "CAF=x8Yk1Q2@mail.gmail.com"

    def test_without_message_id_the_event_id_is_a_hash_of_the_bytes(self) -> None:
        adapter = make_adapter()
        raw = b"From: script@example.org\nSubject: cron\n\nbackup done\n"
        first = adapter.event_id(smtp_request(raw))
        assert first.startswith("sha256:") and len(first) == len("sha256:") + 64
        assert adapter.event_id(smtp_request(raw)) == first  # a retried delivery dedupes
        assert adapter.event_id(smtp_request(raw + b"again\n")) != first
        assert parse_one(raw).provider_message_id is None

    def test_message_id_with_a_comment_and_without_brackets(self) -> None:
        adapter = make_adapter()
        commented = b"Message-ID: <id-1@example.org> (sent by a script)\nFrom: a@example.org\n\nx\n"
        bare = b"Message-ID: id-2@example.org\nFrom: a@example.org\n\nx\n"
        assert adapter.event_id(smtp_request(commented)) == "id-1@example.org"
        assert adapter.event_id(smtp_request(bare)) == "id-2@example.org"

    def test_empty_email_is_malformed(self) -> None:
        with pytest.raises(MalformedEvent, match="empty"):
            make_adapter().event_id(smtp_request(b"\r\n"))


class TestSenderVerification:
    RESULTS = (
        b"Authentication-Results: mx.example.com;\n"
        b"       dkim=pass header.i=@example.org header.s=20230601 header.b=abc;\n"
        b"       spf=pass (mx.example.com: domain of olena@example.org designates 209.85.208.41 as"
        b" permitted sender) smtp.mailfrom=olena@example.org;\n"
        b"       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.org\n"
    )

    def test_a_pass_from_our_mta_verifies_the_sender(self) -> None:
        adapter = make_adapter(trusted_authserv_id="mx.example.com")
        message = parse_one(self.RESULTS + PLAIN, adapter)
        assert message.sender.verified is True
        assert message.metadata["sender_authentication"] == "dkim=pass"

    def test_without_a_trusted_mta_configured_nothing_is_verified(self) -> None:
        assert parse_one(self.RESULTS + PLAIN).sender.verified is False

    def test_a_header_written_by_someone_else_is_ignored(self) -> None:
        forged = self.RESULTS.replace(b"mx.example.com;", b"mx.attacker.example;")
        message = parse_one(forged + PLAIN, make_adapter(trusted_authserv_id="mx.example.com"))
        assert message.sender.verified is False

    def test_only_the_topmost_header_of_our_mta_counts(self) -> None:
        ours = b"Authentication-Results: mx.example.com; dkim=fail header.d=example.org; dmarc=fail\n"
        message = parse_one(ours + self.RESULTS + PLAIN, make_adapter(trusted_authserv_id="mx.example.com"))
        assert message.sender.verified is False

    def test_a_pass_for_another_domain_does_not_vouch_for_from(self) -> None:
        other = b"Authentication-Results: mx.example.com; dkim=pass header.d=mailer.example.net; spf=none\n"
        message = parse_one(other + PLAIN, make_adapter(trusted_authserv_id="mx.example.com"))
        assert message.sender.verified is False


class TestMalformed:
    def test_garbage_bytes_still_yield_a_message_with_a_note(self) -> None:
        raw = b"\x00\xff\xfe garbage \x89PNG\r\n\x1a\n\xde\xad\xbe\xef"
        message = parse_one(raw, mail_from="spammer@example.net")
        assert message.sender == Address(IdentityKind.EMAIL, "spammer@example.net", verified=False)
        assert "garbage" in message.text
        assert (
            "the From header has no usable address; the envelope sender is used instead"
            in (message.metadata["parse_notes"])
        )

    def test_no_sender_anywhere_is_malformed(self) -> None:
        with pytest.raises(MalformedEvent, match="no From address and no envelope sender"):
            make_adapter().parse(smtp_request(b"Subject: who am I\n\nhello\n", mail_from="<>"))

    def test_multipart_without_boundary_is_shown_as_text(self) -> None:
        raw = b"From: olena@example.org\nContent-Type: multipart/mixed\n\nplease call me back\n"
        message = parse_one(raw)
        assert message.text == "please call me back"
        assert message.attachments == ()
        assert (
            "the multipart body could not be split into parts; shown as it came"
            in message.metadata["parse_notes"]
        )

    def test_a_from_header_the_stdlib_parser_chokes_on_still_gives_the_address(self) -> None:
        # policy.default raises IndexError on this value instead of recording a defect.
        raw = b'From: "Olena" <olena@example.org\nSubject: x\n\nhello\n'
        message = parse_one(raw, mail_from="<>")
        assert message.sender.value == "olena@example.org"
        assert message.text == "hello"

    def test_broken_base64_is_noted(self) -> None:
        raw = (
            b"From: olena@example.org\nContent-Type: text/plain; charset=utf-8\n"
            b"Content-Transfer-Encoding: base64\n\n0J/RgNC4\xff*\n"
        )
        message = parse_one(raw)
        assert message.text.startswith("При")
        assert message.metadata["parse_notes"]

    @pytest.mark.parametrize("sample", [PLAIN, ALTERNATIVE, HTML_ONLY, ATTACHMENTS, ENCODED, BOUNCE])
    def test_random_corruption_never_crashes(self, sample: bytes) -> None:
        """Mangled copies of real samples parse or raise MalformedEvent, nothing else."""
        rng = random.Random(sample[:64])
        adapter = make_adapter(trusted_authserv_id="mx.example.com")
        tokens = [b"\xff", b"=?utf-8?b?", b"?=", b"<", b">", b"\n", b";", b'"', b"(", b"\x00", b"*=", b"--"]
        for _ in range(150):
            data = bytearray(sample)
            for _ in range(rng.randint(1, 6)):
                at = rng.randrange(len(data))
                if rng.random() < 0.5:
                    del data[at : at + rng.randint(1, 30)]
                else:
                    data[at:at] = rng.choice(tokens)
            request = smtp_request(bytes(data), mail_from=rng.choice(["olena@example.org", "<>"]))
            try:
                adapter.event_id(request)
                adapter.parse(request)
            except MalformedEvent:
                pass
