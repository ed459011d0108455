"""Opt-out and opt-in keywords texted to a Twilio number.

Twilio's default opt-out handling blocks further messages to a number that texted STOP (sending then
fails with error 21610) and lifts the block on START; the hub mirrors that on the customer's record so
campaigns skip them instead of failing. Twilio's English keywords plus the Spanish BAJA / ALTA are
recognised. A keyword counts only as the whole message, trimmed and in any case: "stop" unsubscribes,
"please stop calling me" is an ordinary message. HELP / AYUDA are left as ordinary messages for an
agent or bot to answer.
"""

from __future__ import annotations

from channels.contract import Address, SubscriptionChange

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "BAJA"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP", "ALTA"})


def subscription_change(sender: Address, body: str) -> SubscriptionChange | None:
    """The subscription change a message body asks for, or None when it is no keyword.

    The change is recorded for marketing messages; the reason is the keyword as recognised, in upper
    case.
    """
    keyword = body.strip().upper()
    if keyword in OPT_OUT_KEYWORDS:
        return SubscriptionChange(sender=sender, subscribed=False, purpose="marketing", reason=keyword)
    if keyword in OPT_IN_KEYWORDS:
        return SubscriptionChange(sender=sender, subscribed=True, purpose="marketing", reason=keyword)
    return None
