"""What the hub lends the flow engine. Bots never import the hub, so the few things a flow needs
from it come in as plain callables, given to FlowEngine by whoever builds it (hub/flows.py
``build_flow_engine``; transcripts use stand-ins):

- ``deep_link(customer_id, channel)``: a link that opens ``channel`` (a channel type such as
  ``telegram``, or an account name) already bound to the customer — the ``{{ deep_link('telegram') }}``
  template function. Raises LookupError with a sentence when no such channel can be linked.
- ``account_for(channel_type)``: the configured account that sends on that channel type, or None —
  where a ``say`` step with ``channel: sms`` goes out.
- ``segments_of(session, customer_id)``: the ids of the saved segments the customer is in now — the
  ``segments`` name of branch conditions (segments can use facts only the hub has, such as open
  conversations).
- ``enrol(session, customer_id, campaign_id, source)``: put the customer into a launched event or
  flow campaign (a welcome series) — the ``campaign`` step. ``source`` names the flow and step. The
  answer says whether they were enrolled and, if not, why (not in its audience, already got it, not
  launched), in the caller's transaction.

Without a host, ``deep_link`` fails the flow with a clear reason and replies to another channel carry
no account (the hub then skips them and says why on the customer's timeline); a ``campaign`` step
enrols nobody and takes its ``on_refused`` path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

DeepLinker = Callable[[int, str], str]
AccountFinder = Callable[[str], str | None]
SegmentFinder = Callable[[AsyncSession, int], Awaitable[list[str]]]


@dataclass(frozen=True)
class Enrolment:
    """The answer to a campaign enrolment: enrolled, or why not (a sentence)."""

    enrolled: bool
    reason: str = ""


CampaignEnroller = Callable[[AsyncSession, int, str, Mapping[str, str]], Awaitable[Enrolment]]


@dataclass(frozen=True)
class Host:
    deep_link: DeepLinker | None = None
    account_for: AccountFinder | None = None
    segments_of: SegmentFinder | None = None
    enrol: CampaignEnroller | None = None
