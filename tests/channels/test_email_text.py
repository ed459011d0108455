"""The text helpers behind parsing: HTML to text, quoted history, and sender authentication."""

from __future__ import annotations

import pytest

from channels.email.authentication import sender_verdict
from channels.email.html_text import html_to_text
from channels.email.quoting import split_quoted


class TestHtmlToText:
    def test_paragraphs_breaks_lists_and_links(self) -> None:
        html = (
            "<html><head><title>Hi</title><style>p{}</style></head><body>"
            "<h1>Order&nbsp;42</h1><p>Hello <b>Olena</b>,</p>"
            "<p>Track it <a href='https://track.example.net/42'>here</a>.<br>Or write to "
            "<a href='mailto:help@example.com'>help@example.com</a>.</p>"
            "<ol><li>Open the box</li><li>Check the seal</li></ol><script>var x = 1;</script></body></html>"
        )
        assert html_to_text(html) == (
            "Order 42\n\nHello Olena,\n\nTrack it here (https://track.example.net/42).\n"
            "Or write to help@example.com.\n\n- Open the box\n- Check the seal"
        )

    def test_blockquotes_become_quoted_lines_at_their_depth(self) -> None:
        html = (
            "<p>New</p><blockquote><p>older</p><p>still older</p><blockquote>oldest</blockquote></blockquote>"
        )
        assert html_to_text(html) == "New\n\n> older\n>\n> still older\n>\n>> oldest"

    def test_preformatted_text_keeps_its_lines_and_spaces(self) -> None:
        assert html_to_text("<pre>  a = 1\n  b = 2</pre>") == "  a = 1\n  b = 2"

    def test_table_cells_are_spaced_and_rows_are_lines(self) -> None:
        assert html_to_text(
            "<table><tr><td>Item</td><td>Qty</td></tr><tr><td>Box</td><td>2</td></tr></table>"
        ) == ("Item Qty\nBox 2")

    @pytest.mark.parametrize("href", ["#top", "javascript:void(0)"])
    def test_links_that_go_nowhere_are_not_shown(self, href: str) -> None:
        assert html_to_text(f"<a href='{href}'>Back</a>") == "Back"

    def test_unclosed_and_stray_tags_do_not_break_it(self) -> None:
        assert html_to_text("<p>one<p>two</div></blockquote><b>three") == "one\n\ntwo\n\nthree"


class TestSplitQuoted:
    def test_gmail_reply(self) -> None:
        text = (
            "Thanks!\n\nOn Mon, Jan 6, 2025 at 9:00 AM Support <support@example.com> wrote:\n> Hello\n> there"
        )
        assert split_quoted(text) == (
            "Thanks!",
            "On Mon, Jan 6, 2025 at 9:00 AM Support <support@example.com> wrote:\n> Hello\n> there",
        )

    def test_spanish_attribution(self) -> None:
        text = "Gracias\n\nEl lun, 6 ene 2025 a las 9:00, Soporte (<support@example.com>) escribió:\n> Hola"
        assert split_quoted(text)[0] == "Gracias"

    def test_outlook_rule_and_header_block(self) -> None:
        text = "Fine.\n\n________________________________\nFrom: Support\nSent: Monday\n\nOld text"
        assert split_quoted(text) == (
            "Fine.",
            "________________________________\nFrom: Support\nSent: Monday\n\nOld text",
        )

    def test_plain_text_is_untouched(self) -> None:
        assert split_quoted("  Just a question.\nTwo lines.  ") == ("Just a question.\nTwo lines.", "")


class TestSenderVerdict:
    TRUSTED = "mx.example.com"

    @pytest.mark.parametrize(
        ("header", "verdict"),
        [
            ("mx.example.com; dmarc=pass header.from=example.org", "dmarc=pass"),
            ("mx.example.com; dkim=pass header.d=example.org", "dkim=pass"),
            (
                "mx.example.com; dkim=pass header.i=@mail.example.org",
                None,
            ),  # a subdomain does not cover the parent
            ("mx.example.com; spf=pass smtp.mailfrom=bounce@example.org", "spf=pass"),
            ("MX.Example.COM 1; dkim=pass (good signature) header.d=example.org", "dkim=pass"),
            ("mx.example.com; dmarc=pass header.from=example.net", None),
            ("mx.example.com; dkim=pass header.d=org", None),
            ("mx.example.com; dkim=fail header.d=example.org; spf=softfail smtp.mailfrom=example.org", None),
            ("mx.example.com; none", None),
            ("mx.other.example; dkim=pass header.d=example.org", None),
            ("", None),
        ],
    )
    def test_verdicts(self, header: str, verdict: str | None) -> None:
        assert sender_verdict([header], "olena@example.org", self.TRUSTED) == verdict

    def test_a_parent_domain_signature_covers_a_subdomain_sender(self) -> None:
        header = "mx.example.com; dkim=pass header.d=example.org"
        assert sender_verdict([header], "olena@mail.example.org", self.TRUSTED) == "dkim=pass"

    def test_nothing_is_trusted_without_a_configured_mta(self) -> None:
        assert sender_verdict(["mx.example.com; dmarc=pass"], "olena@example.org", None) is None
