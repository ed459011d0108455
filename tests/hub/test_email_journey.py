"""Email through the real pipeline: a customer's mail arrives at the hub's own SMTP server, lands in
the inbox, and the agent's reply reaches the customer's mail server threaded under their message."""

from __future__ import annotations

import asyncio
import email
import email.policy
from email.message import EmailMessage

import aiosmtplib
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from hub.runtime import Hub
from inbox.models import Role
from tests.conftest import HubFactory, agent_headers, client_for, drain
from tests.processes import free_port


class Mailbox:
    """The customer's mail server: records what the hub sends out."""

    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


async def test_mail_in_reply_out_threaded(make_hub: HubFactory) -> None:
    mailbox = Mailbox()
    outbound = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    outbound.start()
    inbound_port = free_port()
    try:
        hub: Hub = await make_hub(
            {
                "mail": {
                    "type": "email",
                    "address": "support@shop.example",
                    "display_name": "Shop Support",
                    "smtp": {"host": "127.0.0.1", "port": outbound.port, "security": "none"},
                    "inbound_smtp": {"host": "127.0.0.1", "port": inbound_port},
                }
            }
        )
        hub.start_listeners()
        adapter = hub.accounts.get("mail").adapter
        await asyncio.wait_for(adapter.smtp_server.started.wait(), 10)  # type: ignore[attr-defined]

        question = EmailMessage()
        question["From"] = "Olena Kovalenko <Olena@Customer.example>"
        question["To"] = "support@shop.example"
        question["Subject"] = "¿Dónde está mi pedido 1042?"
        question["Message-ID"] = "<q-1042@customer.example>"
        question.set_content("Hola, mi pedido no ha llegado.\n\nGracias")
        await aiosmtplib.send(question, hostname="127.0.0.1", port=inbound_port)
        # The same mail delivered again (a sending server's retry) is one message.
        await aiosmtplib.send(question, hostname="127.0.0.1", port=inbound_port)
        await drain(hub)

        async with client_for(hub) as http:
            headers, _ = await agent_headers(hub, Role.AGENT)
            [conversation] = (await http.get("/api/v1/conversations", headers=headers)).json()
            assert (
                conversation["channel_type"] == "email" and conversation["customer_name"] == "Olena Kovalenko"
            )
            messages = (
                await http.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers)
            ).json()
            assert [m["direction"] for m in messages] == [
                "inbound",
                "outbound",
            ]  # the greeting went out by mail
            assert messages[0]["text"].startswith("Hola, mi pedido no ha llegado.")
            customer = (
                await http.get(f"/api/v1/customers/{conversation['customer_id']}", headers=headers)
            ).json()
            assert [(i["kind"], i["address"]) for i in customer["identities"]] == [
                ("email", "olena@customer.example")
            ]

            reply = await http.post(
                f"/api/v1/conversations/{conversation['id']}/messages",
                json={"text": "Tu pedido 1042 sale hoy."},
                headers=headers,
            )
            assert reply.status_code == 201
            await drain(hub)

        assert len(mailbox.received) == 2
        answer = mailbox.received[-1]
        assert answer["To"] == "olena@customer.example"
        assert answer["Subject"] == "Re: ¿Dónde está mi pedido 1042?"
        assert answer["In-Reply-To"] == "<q-1042@customer.example>"
        assert "<q-1042@customer.example>" in answer["References"]
        assert "Tu pedido 1042 sale hoy." in answer.get_body(("plain",)).get_content()  # type: ignore[union-attr]

        # The conversation is resolved; days later she answers that mail: the same conversation reopens.
        async with client_for(hub) as http:
            await http.post(
                f"/api/v1/conversations/{conversation['id']}/status",
                json={"status": "resolved"},
                headers=headers,
            )
        follow_up = EmailMessage()
        follow_up["From"] = "Olena Kovalenko <olena@customer.example>"
        follow_up["To"] = "support@shop.example"
        follow_up["Subject"] = "Re: " + str(answer["Subject"])
        follow_up["Message-ID"] = "<q-1042-2@customer.example>"
        follow_up["In-Reply-To"] = answer["Message-ID"]
        follow_up["References"] = f"<q-1042@customer.example> {answer['Message-ID']}"
        follow_up.set_content("¡Llegó! Gracias.")
        await aiosmtplib.send(follow_up, hostname="127.0.0.1", port=inbound_port)
        await drain(hub)
        async with client_for(hub) as http:
            conversations = (await http.get("/api/v1/conversations", headers=headers)).json()
            assert [(c["id"], c["status"]) for c in conversations] == [(conversation["id"], "open")]
    finally:
        outbound.stop()
