"""A say step on another channel (``channel: sms``) and the ``deep_link()`` template function: what the
engine hands the hub, with the host the hub lends it (bots.flows.host) and without one."""

from __future__ import annotations

from pathlib import Path

from bots.flows import FlowEngine, FlowSet
from bots.flows.host import Host
from hub.db import Database
from tests.bots.conftest import Clock, Talk, flows_from, new_customer

FLOW = """
id: callback
version: 1
triggers:
  - event: call.missed
start: sorry
steps:
  sorry:
    say: "Sorry we missed you! {{ deep_link('telegram') }}"
    channel: sms
    next: here
  here:
    say: "Noted on {{ channel }}"
"""


def linker(customer_id: int, channel: str) -> str:
    if channel != "telegram":
        raise LookupError(f"hub.yaml has no {channel} account")
    return f"https://t.me/shop_bot?start=c{customer_id}"


async def talk(db: Database, flows: FlowSet, host: Host | None) -> Talk:
    talking = Talk(db, FlowEngine(flows, clock=Clock(), host=host), await new_customer(db))
    talking.channel = "telephony"
    return talking


class TestSayOnAnotherChannel:
    async def test_the_reply_names_the_channel_and_the_account_the_host_lends(
        self, db: Database, tmp_path: Path
    ) -> None:
        host = Host(deep_link=linker, account_for={"sms": "sms-main"}.get)
        talking = await talk(db, flows_from(tmp_path, FLOW), host)
        sms, here = (await talking.event("call.missed")).replies
        assert sms.text == f"Sorry we missed you! https://t.me/shop_bot?start=c{talking.customer_id}"
        assert (sms.channel_type, sms.channel_account) == ("sms", "sms-main")
        # Without channel, a reply goes where the conversation is (the hub's default).
        assert (here.text, here.channel_type, here.channel_account) == ("Noted on telephony", None, None)

    async def test_naming_the_conversations_own_channel_changes_nothing(
        self, db: Database, tmp_path: Path
    ) -> None:
        host = Host(deep_link=linker, account_for={"sms": "sms-main"}.get)
        talking = await talk(db, flows_from(tmp_path, FLOW), host)
        talking.channel = "sms"
        sms, _ = (await talking.event("call.missed")).replies
        assert (sms.channel_type, sms.channel_account) == (None, None)

    async def test_without_an_account_the_reply_still_says_its_channel(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, FLOW), Host(deep_link=linker))
        sms, _ = (await talking.event("call.missed")).replies
        assert (sms.channel_type, sms.channel_account) == ("sms", None)  # the hub skips it, saying why


class TestDeepLinks:
    async def test_without_a_host_deep_link_fails_the_flow_with_the_reason(
        self, db: Database, tmp_path: Path
    ) -> None:
        talking = await talk(db, flows_from(tmp_path, FLOW), None)
        assert (await talking.event("call.missed")).replies == ()
        [failed] = await talking.events("flow.failed")
        assert (
            failed.payload["error"]
            == "deep_link() is not available: the hub did not give the flow engine one"
        )

    async def test_a_channel_the_hub_cannot_link_fails_the_flow_with_the_hubs_reason(
        self, db: Database, tmp_path: Path
    ) -> None:
        flows = flows_from(tmp_path, FLOW.replace("deep_link('telegram')", "deep_link('viber')"))
        talking = await talk(db, flows, Host(deep_link=linker))
        await talking.event("call.missed")
        [failed] = await talking.events("flow.failed")
        assert failed.payload["error"] == "deep_link('viber'): hub.yaml has no viber account"

    async def test_the_sandbox_sees_a_plain_function(self, db: Database, tmp_path: Path) -> None:
        flows = flows_from(tmp_path, FLOW.replace("deep_link('telegram')", "deep_link.__closure__"))
        talking = await talk(db, flows, Host(deep_link=linker))
        sms, _ = (await talking.event("call.missed")).replies
        assert sms.text == "Sorry we missed you!"  # underscored attributes are not reachable
