"""TwiML answers to Twilio's webhook requests.

Twilio reads the webhook's answer as TwiML, instructions for the message or call; the SDK's
MessagingResponse / VoiceResponse write it, so the XML is always well formed and escaped.
"""

from __future__ import annotations

from twilio.twiml import TwiML
from twilio.twiml.messaging_response import MessagingResponse

from channels.contract import Acknowledgement

TWIML_CONTENT_TYPE = "text/xml"


def twiml_acknowledgement(response: TwiML | None = None) -> Acknowledgement:
    """A 200 carrying ``response``; by default an empty messaging response, which tells Twilio there
    is nothing to reply (the hub replies through the API once the message is processed)."""
    document = response if response is not None else MessagingResponse()
    return Acknowledgement(
        status_code=200, body=document.to_xml().encode("utf-8"), content_type=TWIML_CONTENT_TYPE
    )
