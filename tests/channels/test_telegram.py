"""The Telegram adapter: inbound Updates built with aiogram's own types and serialised as Telegram sends
them; outbound through the real aiogram Bot against the local fake Bot API server."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from aiogram.types import (
    Audio,
    CallbackQuery,
    Chat,
    ChatMemberBanned,
    ChatMemberMember,
    Contact,
    Dice,
    Document,
    InaccessibleMessage,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    Location,
    Message,
    PhotoSize,
    Sticker,
    Update,
    User,
    Video,
    VideoNote,
    Voice,
)
from pydantic import ValidationError

from channels.contract import (
    Acknowledgement,
    Address,
    Attachment,
    Button,
    ChannelAdapter,
    ChannelContext,
    IdentityKind,
    InboundMessage,
    MalformedEvent,
    OutboundMessage,
    PermanentSendError,
    RateLimited,
    SendResult,
    SignatureError,
    SubscriptionChange,
    TransientSendError,
    WebhookRequest,
)
from channels.registry import spec_for
from channels.telegram import SPEC, TelegramAdapter, TelegramSettings
from channels.text_split import split_text, utf16_length
from tests.fakes.telegram_api import (
    TOKEN,
    FakeTelegramAPI,
    Reply,
    blocked,
    chat_not_found,
    malformed,
    retry_after,
    server_error,
    slow,
    telegram_api_fixture,  # noqa: F401 (the telegram_api fixture)
)

SECRET = "webhook-secret_0123"
CONTEXT = ChannelContext(account="support", public_url="https://hub.example.com", http_timeout=5.0)

USER = User(
    id=42,
    is_bot=False,
    first_name="Olena",
    last_name="Kovalenko",
    username="olena_k",
    language_code="uk",
)
BOT = User(id=123456789, is_bot=True, first_name="Shop bot", username="shop_bot")
PRIVATE = Chat(id=42, type="private", first_name="Olena")
GROUP = Chat(id=-1001234, type="supergroup", title="Team")
SENT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
EDITED = datetime(2024, 5, 1, 12, 3, tzinfo=UTC)
SENDER = Address(IdentityKind.TELEGRAM, "42", verified=True, display_name="Olena Kovalenko")


def settings(**overrides: object) -> TelegramSettings:
    fields = {"type": "telegram", "token": TOKEN, "webhook_secret": SECRET, **overrides}
    return TelegramSettings.model_validate(fields)


def message(**content: object) -> Message:
    """A message from Olena in her private chat with the bot."""
    fields = {"message_id": 10, "date": SENT, "chat": PRIVATE, "from_user": USER, **content}
    return Message.model_validate(fields)


def update(**kind: object) -> Update:
    return Update.model_validate({"update_id": 1000, **kind})


def delivered(body: Update | bytes, secret: str | None = SECRET) -> WebhookRequest:
    """The webhook request Telegram makes for ``body``."""
    raw = body if isinstance(body, bytes) else body.model_dump_json(by_alias=True, exclude_none=True).encode()
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-telegram-bot-api-secret-token"] = secret
    return WebhookRequest("POST", "https://hub.example.com/webhooks/telegram/support", headers, raw)


def inbound(**fields: object) -> InboundMessage:
    """What Olena's message 10 normalises to, with ``fields`` on top."""
    base = {
        "sender": SENDER,
        "provider_message_id": "42:10",
        "sent_at": SENT,
        "locale": "uk",
        "metadata": {"username": "olena_k"},
    }
    return InboundMessage(**{**base, **fields})  # type: ignore[arg-type]


@pytest.fixture
async def adapter() -> AsyncIterator[TelegramAdapter]:
    """An adapter for the inbound side: it never opens a connection."""
    built = TelegramAdapter(settings(), CONTEXT)
    yield built
    await built.aclose()


@asynccontextmanager
async def adapter_for(
    api_base: str, *, http_timeout: float = 5.0, token: str = TOKEN
) -> AsyncIterator[TelegramAdapter]:
    context = ChannelContext(
        account="support", public_url="https://hub.example.com", http_timeout=http_timeout
    )
    built = TelegramAdapter(settings(api_base=api_base, token=token), context)
    try:
        yield built
    finally:
        await built.aclose()


@pytest.fixture
async def outbound(telegram_api: FakeTelegramAPI) -> AsyncIterator[TelegramAdapter]:
    """An adapter whose real aiogram Bot talks to the fake Bot API server."""
    async with adapter_for(telegram_api.base_url) as built:
        yield built


def parse_one(adapter: TelegramAdapter, body: Update) -> object:
    events = adapter.parse(delivered(body))
    assert len(events) == 1, events
    return events[0]


# --------------------------------------------------------------------------------------------------
# Settings and registration


class TestSettings:
    def test_valid_settings_hide_their_secrets(self) -> None:
        configured = settings(api_base="http://127.0.0.1:8081")

        assert configured.token.get_secret_value() == TOKEN
        assert TOKEN not in repr(configured)
        assert SECRET not in repr(configured)

    @pytest.mark.parametrize("token", ["987654", "abc:DEF", "987:", "987:has space", ":abc"])
    def test_a_token_not_shaped_like_botfathers_is_refused_without_echoing_it(self, token: str) -> None:
        with pytest.raises(ValidationError) as raised:
            settings(token=token)

        assert "bot id, a colon" in str(raised.value)
        assert token not in str(raised.value)

    @pytest.mark.parametrize("secret", ["", "has space", "semi;colon", "ü", "x" * 257])
    def test_a_webhook_secret_telegram_would_refuse_is_refused(self, secret: str) -> None:
        with pytest.raises(ValidationError, match="1 to 256 characters of A-Z, a-z, 0-9"):
            settings(webhook_secret=secret)

    def test_the_longest_allowed_webhook_secret_is_accepted(self) -> None:
        assert settings(webhook_secret="a-Z_9" * 51 + "x").webhook_secret.get_secret_value().endswith("x")


class TestRegistration:
    def test_the_registry_finds_the_spec_and_builds_a_channel_adapter(self) -> None:
        spec = spec_for("telegram")

        built = spec.build(settings(), CONTEXT)

        assert spec is SPEC
        assert isinstance(built, ChannelAdapter)
        assert built.type == "telegram"

    def test_capabilities_and_rate_limits(self, adapter: TelegramAdapter) -> None:
        assert adapter.capabilities.buttons and adapter.capabilities.media
        assert adapter.capabilities.max_text_length == 4096
        assert not adapter.capabilities.delivery_receipts and not adapter.capabilities.read_receipts
        assert adapter.rate_limits.per_second == 30.0
        assert adapter.rate_limits.per_recipient_per_second == 1.0


# --------------------------------------------------------------------------------------------------
# Webhook checks


class TestVerify:
    def test_the_configured_secret_is_accepted(self, adapter: TelegramAdapter) -> None:
        adapter.verify(delivered(update(message=message(text="hi"))))

    @pytest.mark.parametrize("forged", ["wrong-secret", SECRET + "x", SECRET[:-1], "", "ü" * 3])
    def test_a_forged_secret_is_rejected(self, adapter: TelegramAdapter, forged: str) -> None:
        with pytest.raises(SignatureError, match="does not match"):
            adapter.verify(delivered(update(message=message(text="hi")), secret=forged))

    def test_a_missing_secret_is_rejected(self, adapter: TelegramAdapter) -> None:
        with pytest.raises(SignatureError, match="header is missing"):
            adapter.verify(delivered(update(message=message(text="hi")), secret=None))


class TestEventId:
    def test_the_update_id_is_the_event_id_across_redeliveries(self, adapter: TelegramAdapter) -> None:
        body = update(message=message(text="hi"))

        assert adapter.event_id(delivered(body)) == "1000"
        assert adapter.event_id(delivered(body)) == "1000"

    def test_an_edit_is_a_new_event(self, adapter: TelegramAdapter) -> None:
        edit = Update(update_id=1001, edited_message=message(text="hi!", edit_date=int(EDITED.timestamp())))

        assert adapter.event_id(delivered(edit)) == "1001"

    @pytest.mark.parametrize(
        ("body", "problem"),
        [
            (b"not json", "not valid JSON"),
            (b"[1000]", "no integer update_id"),
            (b'{"message": {}}', "no integer update_id"),
            (b'{"update_id": "1000"}', "no integer update_id"),
            (b'{"update_id": true}', "no integer update_id"),
        ],
    )
    def test_a_body_without_update_id_is_malformed(
        self, adapter: TelegramAdapter, body: bytes, problem: str
    ) -> None:
        with pytest.raises(MalformedEvent, match=problem):
            adapter.event_id(delivered(body))


class TestAcknowledgement:
    def test_a_button_press_is_answered_in_the_webhook_reply(self, adapter: TelegramAdapter) -> None:
        press = CallbackQuery(id="cbq-77", from_user=USER, chat_instance="ci-1", data="confirm")

        ack = adapter.acknowledgement(delivered(update(callback_query=press)))

        assert ack.status_code == 200
        assert ack.content_type == "application/json"
        assert ack.body == b'{"method":"answerCallbackQuery","callback_query_id":"cbq-77"}'

    def test_anything_else_gets_a_plain_200(self, adapter: TelegramAdapter) -> None:
        assert adapter.acknowledgement(delivered(update(message=message(text="hi")))) == Acknowledgement()


# --------------------------------------------------------------------------------------------------
# Inbound messages


class TestParseMessages:
    def test_text(self, adapter: TelegramAdapter) -> None:
        assert adapter.parse(delivered(update(message=message(text="Where is my order?")))) == [
            inbound(text="Where is my order?")
        ]

    def test_a_sender_without_last_name_username_or_language(self, adapter: TelegramAdapter) -> None:
        taras = User(id=7, is_bot=False, first_name="Taras")
        body = update(message=message(text="hi", from_user=taras, chat=Chat(id=7, type="private")))

        assert parse_one(adapter, body) == InboundMessage(
            sender=Address(IdentityKind.TELEGRAM, "7", verified=True, display_name="Taras"),
            text="hi",
            provider_message_id="7:10",
            sent_at=SENT,
        )

    def test_photo_keeps_the_largest_size_and_the_caption(self, adapter: TelegramAdapter) -> None:
        sizes = [
            PhotoSize(file_id="p-small", file_unique_id="u-s", width=90, height=67, file_size=1200),
            PhotoSize(file_id="p-large", file_unique_id="u-l", width=1280, height=960, file_size=98000),
            PhotoSize(file_id="p-medium", file_unique_id="u-m", width=320, height=240, file_size=15000),
        ]
        body = update(message=message(photo=sizes, caption="My receipt"))

        assert parse_one(adapter, body) == inbound(
            text="My receipt",
            attachments=(
                Attachment(
                    "image",
                    size=98000,
                    caption="My receipt",
                    data={"file_id": "p-large", "width": 1280, "height": 960},
                ),
            ),
        )

    def test_document(self, adapter: TelegramAdapter) -> None:
        doc = Document(
            file_id="d-1",
            file_unique_id="u-d",
            file_name="invoice.pdf",
            mime_type="application/pdf",
            file_size=52000,
        )

        assert parse_one(adapter, update(message=message(document=doc))) == inbound(
            attachments=(
                Attachment(
                    "file",
                    filename="invoice.pdf",
                    content_type="application/pdf",
                    size=52000,
                    data={"file_id": "d-1"},
                ),
            )
        )

    def test_audio(self, adapter: TelegramAdapter) -> None:
        audio = Audio(
            file_id="a-1",
            file_unique_id="u-a",
            duration=185,
            performer="Okean Elzy",
            title="Obijmy",
            file_name="obijmy.mp3",
            mime_type="audio/mpeg",
            file_size=4_400_000,
        )

        assert parse_one(adapter, update(message=message(audio=audio))) == inbound(
            attachments=(
                Attachment(
                    "audio",
                    filename="obijmy.mp3",
                    content_type="audio/mpeg",
                    size=4_400_000,
                    data={"file_id": "a-1", "duration": 185, "performer": "Okean Elzy", "title": "Obijmy"},
                ),
            )
        )

    def test_voice(self, adapter: TelegramAdapter) -> None:
        voice = Voice(file_id="v-1", file_unique_id="u-v", duration=4, mime_type="audio/ogg", file_size=9000)

        assert parse_one(adapter, update(message=message(voice=voice))) == inbound(
            attachments=(
                Attachment(
                    "voice", content_type="audio/ogg", size=9000, data={"file_id": "v-1", "duration": 4}
                ),
            )
        )

    def test_video(self, adapter: TelegramAdapter) -> None:
        video = Video(
            file_id="vid-1",
            file_unique_id="u-vid",
            width=1280,
            height=720,
            duration=12,
            file_name="unboxing.mp4",
            mime_type="video/mp4",
            file_size=3_000_000,
        )

        assert parse_one(adapter, update(message=message(video=video, caption="Unboxing"))) == inbound(
            text="Unboxing",
            attachments=(
                Attachment(
                    "video",
                    filename="unboxing.mp4",
                    content_type="video/mp4",
                    size=3_000_000,
                    caption="Unboxing",
                    data={"file_id": "vid-1", "duration": 12, "width": 1280, "height": 720},
                ),
            ),
        )

    def test_video_note(self, adapter: TelegramAdapter) -> None:
        note = VideoNote(file_id="vn-1", file_unique_id="u-vn", length=240, duration=7, file_size=310_000)

        assert parse_one(adapter, update(message=message(video_note=note))) == inbound(
            attachments=(
                Attachment(
                    "video", size=310_000, data={"file_id": "vn-1", "duration": 7, "video_note": True}
                ),
            )
        )

    def test_location(self, adapter: TelegramAdapter) -> None:
        where = Location(latitude=50.4501, longitude=30.5234)

        assert parse_one(adapter, update(message=message(location=where))) == inbound(
            attachments=(Attachment("location", data={"latitude": 50.4501, "longitude": 30.5234}),)
        )

    def test_sticker_is_a_labelled_placeholder_and_an_attachment(self, adapter: TelegramAdapter) -> None:
        sticker = Sticker(
            file_id="s-1",
            file_unique_id="u-s",
            type="regular",
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
            emoji="😀",
            set_name="HappyCats",
        )

        assert parse_one(adapter, update(message=message(sticker=sticker))) == inbound(
            text="[sticker 😀]",
            attachments=(
                Attachment("sticker", data={"file_id": "s-1", "emoji": "😀", "set_name": "HappyCats"}),
            ),
        )

    def test_sticker_without_emoji(self, adapter: TelegramAdapter) -> None:
        sticker = Sticker(
            file_id="s-2",
            file_unique_id="u-s2",
            type="regular",
            width=512,
            height=512,
            is_animated=True,
            is_video=False,
        )

        assert parse_one(adapter, update(message=message(sticker=sticker))) == inbound(
            text="[sticker]", attachments=(Attachment("sticker", data={"file_id": "s-2"}),)
        )

    def test_a_reply_points_at_the_quoted_message(self, adapter: TelegramAdapter) -> None:
        quoted = Message(message_id=8, date=SENT, chat=PRIVATE, from_user=BOT, text="Your order shipped")
        body = update(message=message(text="Thanks!", reply_to_message=quoted))

        assert parse_one(adapter, body) == inbound(text="Thanks!", in_reply_to=("42:8",))

    def test_an_album_photo_keeps_its_media_group(self, adapter: TelegramAdapter) -> None:
        size = PhotoSize(file_id="p-1", file_unique_id="u-1", width=800, height=600)
        body = update(message=message(photo=[size], media_group_id="album-5"))

        parsed = parse_one(adapter, body)

        assert isinstance(parsed, InboundMessage)
        assert parsed.metadata == {"username": "olena_k", "media_group_id": "album-5"}


class TestParseContacts:
    def test_own_contact_is_a_verified_phone_in_e164(self, adapter: TelegramAdapter) -> None:
        own = Contact(phone_number="380501234567", first_name="Olena", last_name="Kovalenko", user_id=42)

        assert parse_one(adapter, update(message=message(contact=own))) == inbound(
            attachments=(
                Attachment(
                    "contact", data={"phone": "+380501234567", "name": "Olena Kovalenko", "user_id": "42"}
                ),
            ),
            extra_identities=(
                Address(IdentityKind.PHONE, "+380501234567", verified=True, display_name="Olena Kovalenko"),
            ),
        )

    def test_own_contact_with_plus_and_spaces_is_normalised(self, adapter: TelegramAdapter) -> None:
        own = Contact(phone_number="+380 50 123-45-67", first_name="Olena", user_id=42)

        parsed = parse_one(adapter, update(message=message(contact=own)))

        assert isinstance(parsed, InboundMessage)
        assert parsed.extra_identities == (
            Address(IdentityKind.PHONE, "+380501234567", verified=True, display_name="Olena"),
        )

    def test_someone_elses_contact_is_only_an_attachment(self, adapter: TelegramAdapter) -> None:
        friend = Contact(phone_number="+44 20 7946 0958", first_name="John", user_id=77)

        assert parse_one(adapter, update(message=message(contact=friend))) == inbound(
            attachments=(
                Attachment("contact", data={"phone": "+44 20 7946 0958", "name": "John", "user_id": "77"}),
            )
        )

    def test_a_contact_card_without_telegram_account_is_only_an_attachment(
        self, adapter: TelegramAdapter
    ) -> None:
        card = Contact(phone_number="0501234567", first_name="Mom")

        assert parse_one(adapter, update(message=message(contact=card))) == inbound(
            attachments=(Attachment("contact", data={"phone": "0501234567", "name": "Mom"}),)
        )

    def test_own_contact_with_an_impossible_number_vouches_for_nothing(
        self, adapter: TelegramAdapter
    ) -> None:
        own = Contact(phone_number="12", first_name="Olena", user_id=42)

        parsed = parse_one(adapter, update(message=message(contact=own)))

        assert isinstance(parsed, InboundMessage)
        assert parsed.extra_identities == ()
        assert parsed.attachments == (
            Attachment("contact", data={"phone": "12", "name": "Olena", "user_id": "42"}),
        )


class TestParseStart:
    @pytest.mark.parametrize(
        ("text", "payload"),
        [
            ("/start ref-campaign_7", "ref-campaign_7"),
            ("/start", ""),
            ("/start@shop_bot promo", "promo"),
            ("/startle me", None),
            ("please /start", None),
        ],
    )
    def test_start_payload(self, adapter: TelegramAdapter, text: str, payload: str | None) -> None:
        assert parse_one(adapter, update(message=message(text=text))) == inbound(
            text=text, start_payload=payload
        )


class TestParseEdits:
    def test_an_edit_keeps_the_message_id_and_carries_the_edit_time(self, adapter: TelegramAdapter) -> None:
        edit = update(
            edited_message=message(text="Where is my order #55?", edit_date=int(EDITED.timestamp()))
        )

        assert parse_one(adapter, edit) == inbound(text="Where is my order #55?", edited=True, sent_at=EDITED)

    def test_editing_an_old_start_command_starts_nothing(self, adapter: TelegramAdapter) -> None:
        edit = update(edited_message=message(text="/start promo", edit_date=int(EDITED.timestamp())))

        assert parse_one(adapter, edit) == inbound(text="/start promo", edited=True, sent_at=EDITED)


class TestParseButtons:
    KEYBOARD = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="Yes, confirm", callback_data="confirm"),
                InlineKeyboardButton(text="No, thanks", callback_data="cancel"),
            ],
            [InlineKeyboardButton(text="Our site", url="https://shop.example.com")],
        ]
    )

    def press(self, data: str, message: Message | InaccessibleMessage | None) -> Update:
        return update(
            callback_query=CallbackQuery(
                id="cbq-1", from_user=USER, chat_instance="ci-1", message=message, data=data
            )
        )

    def question(self, chat: Chat = PRIVATE) -> Message:
        return Message(
            message_id=11,
            date=SENT,
            chat=chat,
            from_user=BOT,
            text="Confirm your order?",
            reply_markup=self.KEYBOARD,
        )

    def test_a_press_carries_the_payload_and_the_button_title(self, adapter: TelegramAdapter) -> None:
        assert parse_one(adapter, self.press("cancel", self.question())) == InboundMessage(
            sender=SENDER,
            text="No, thanks",
            button_payload="cancel",
            locale="uk",
            metadata={"username": "olena_k", "callback_query_id": "cbq-1", "message_id": "42:11"},
        )

    def test_a_payload_no_longer_on_the_keyboard_has_no_title(self, adapter: TelegramAdapter) -> None:
        parsed = parse_one(adapter, self.press("old-payload", self.question()))

        assert isinstance(parsed, InboundMessage)
        assert (parsed.text, parsed.button_payload) == ("", "old-payload")

    def test_a_press_under_a_message_too_old_to_read(self, adapter: TelegramAdapter) -> None:
        parsed = parse_one(adapter, self.press("confirm", InaccessibleMessage(chat=PRIVATE, message_id=3)))

        assert isinstance(parsed, InboundMessage)
        assert (parsed.text, parsed.button_payload, parsed.metadata["message_id"]) == ("", "confirm", "42:3")

    def test_a_press_in_a_group_or_inline_message_is_ignored(self, adapter: TelegramAdapter) -> None:
        assert adapter.parse(delivered(self.press("confirm", self.question(chat=GROUP)))) == []
        assert adapter.parse(delivered(self.press("confirm", None))) == []


class TestParseMembership:
    def change(self, new_status: ChatMemberMember | ChatMemberBanned, chat: Chat = PRIVATE) -> Update:
        return update(
            my_chat_member={
                "chat": chat,
                "from": USER,
                "date": SENT,
                "old_chat_member": ChatMemberMember(user=BOT),
                "new_chat_member": new_status,
            }
        )

    def test_blocking_the_bot_unsubscribes(self, adapter: TelegramAdapter) -> None:
        body = self.change(ChatMemberBanned(user=BOT, until_date=datetime(1970, 1, 1, tzinfo=UTC)))

        assert parse_one(adapter, body) == SubscriptionChange(
            sender=SENDER, subscribed=False, purpose="channel", reason="blocked the bot"
        )

    def test_unblocking_the_bot_subscribes(self, adapter: TelegramAdapter) -> None:
        assert parse_one(adapter, self.change(ChatMemberMember(user=BOT))) == SubscriptionChange(
            sender=SENDER, subscribed=True, purpose="channel", reason="unblocked the bot"
        )

    def test_membership_in_a_group_is_ignored(self, adapter: TelegramAdapter) -> None:
        assert adapter.parse(delivered(self.change(ChatMemberMember(user=BOT), chat=GROUP))) == []


class TestParseIgnored:
    def test_a_group_message_is_ignored(self, adapter: TelegramAdapter) -> None:
        assert adapter.parse(delivered(update(message=message(text="hi all", chat=GROUP)))) == []

    def test_a_channel_post_is_ignored(self, adapter: TelegramAdapter) -> None:
        post = Message(message_id=3, date=SENT, chat=Chat(id=-1009, type="channel"), text="News")

        assert adapter.parse(delivered(update(channel_post=post))) == []

    def test_an_inline_query_is_ignored(self, adapter: TelegramAdapter) -> None:
        query = InlineQuery(id="iq-1", from_user=USER, query="shoes", offset="")

        assert adapter.parse(delivered(update(inline_query=query))) == []

    def test_content_without_text_or_attachment_is_ignored(self, adapter: TelegramAdapter) -> None:
        assert adapter.parse(delivered(update(message=message(dice=Dice(emoji="🎲", value=3))))) == []

    def test_an_update_kind_unknown_to_this_aiogram_is_ignored(self, adapter: TelegramAdapter) -> None:
        body = b'{"update_id": 1000, "future_kind": {"id": "x"}}'

        assert adapter.parse(delivered(body)) == []


class TestParseMalformed:
    @pytest.mark.parametrize(
        ("body", "problem"),
        [
            (b"\xff\xfe", "not valid UTF-8"),
            (b"{not json", "not valid JSON"),
            (b'"text"', "not a JSON object"),
            (b'{"update_id": 1, "message": {"message_id": 1}}', r"not a Telegram Update: message\.date"),
            (b'{"message": {}}', "not a Telegram Update: update_id"),
        ],
    )
    def test_what_is_not_an_update_is_malformed(
        self, adapter: TelegramAdapter, body: bytes, problem: str
    ) -> None:
        with pytest.raises(MalformedEvent, match=problem):
            adapter.parse(delivered(body))


class TestHubOrder:
    def test_verify_event_id_acknowledgement_and_parse_on_one_request(self, adapter: TelegramAdapter) -> None:
        request = delivered(update(message=message(text="/start order-55")))

        adapter.verify(request)

        assert adapter.event_id(request) == "1000"
        assert adapter.acknowledgement(request) == Acknowledgement()
        assert adapter.parse(request) == [inbound(text="/start order-55", start_payload="order-55")]


# --------------------------------------------------------------------------------------------------
# Text splitting


class TestSplitText:
    def test_a_text_within_the_limit_is_one_part(self) -> None:
        assert split_text("Hello", 4096) == ["Hello"]

    def test_paragraph_boundary_is_preferred(self) -> None:
        assert split_text("aaaa bb\ncc\n\ndd ee", 14) == ["aaaa bb\ncc", "dd ee"]

    def test_line_then_word_boundary(self) -> None:
        assert split_text("aaaa\nbbbb", 6) == ["aaaa", "bbbb"]
        assert split_text("one two three four", 10) == ["one two", "three four"]

    def test_a_boundary_in_the_first_half_is_not_worth_a_tiny_part(self) -> None:
        assert split_text("ab cdefghijklmnop", 10) == ["ab cdefghi", "jklmnop"]

    def test_length_is_counted_in_utf16_units_like_telegram(self) -> None:
        parts = split_text("😀😀😀", 4)

        assert parts == ["😀😀", "😀"]
        assert utf16_length("😀") == 2

    def test_every_part_fits_and_nothing_but_separators_is_lost(self) -> None:
        text = "\n\n".join(" ".join(f"word{i}-{j}" for j in range(300)) for i in range(5))

        parts = split_text(text, 4096)

        assert len(parts) > 2
        assert all(utf16_length(part) <= 4096 for part in parts)
        assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


# --------------------------------------------------------------------------------------------------
# Sending through the real aiogram Bot to the fake Bot API


def outgoing(text: str = "Your order shipped", **fields: object) -> OutboundMessage:
    return OutboundMessage(to="42", text=text, idempotency_key="msg-1", **fields)  # type: ignore[arg-type]


class TestSendText:
    async def test_text(self, outbound: TelegramAdapter, telegram_api: FakeTelegramAPI) -> None:
        result = await outbound.send(outgoing())

        assert result == SendResult(provider_message_ids=("42:1",))
        assert [(call.method, call.params) for call in telegram_api.calls] == [
            ("sendMessage", {"chat_id": "42", "text": "Your order shipped"})
        ]

    async def test_message_ids_increase(
        self, outbound: TelegramAdapter, telegram_api: FakeTelegramAPI
    ) -> None:
        first = await outbound.send(outgoing())
        second = await outbound.send(outgoing("And it arrives tomorrow"))

        assert (first.provider_message_ids, second.provider_message_ids) == (("42:1",), ("42:2",))

    async def test_long_text_is_split_with_buttons_on_the_last_part(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        first = " ".join(["first"] * 500)  # 2999 characters
        second = " ".join(["second"] * 300)  # 2099 characters

        result = await outbound.send(outgoing(f"{first}\n\n{second}", buttons=(Button("OK", payload="ok"),)))

        assert result.provider_message_ids == ("42:1", "42:2")
        calls = telegram_api.sent("sendMessage")
        assert [call.params["text"] for call in calls] == [first, second]
        assert "reply_markup" not in calls[0].params
        assert calls[1].json_param("reply_markup") == {
            "inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]
        }

    async def test_a_chat_id_that_is_not_a_number_is_refused_before_sending(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        with pytest.raises(PermanentSendError, match="not a Telegram chat id"):
            await outbound.send(OutboundMessage(to="@olena_k", text="hi", idempotency_key="k"))

        assert telegram_api.calls == []

    async def test_an_empty_message_is_refused(
        self, outbound: TelegramAdapter, telegram_api: FakeTelegramAPI
    ) -> None:
        with pytest.raises(PermanentSendError, match="neither text nor attachments"):
            await outbound.send(outgoing(""))

        assert telegram_api.calls == []


class TestSendButtons:
    async def test_payload_and_link_buttons_are_an_inline_keyboard(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        buttons = (
            Button("Track parcel", payload="track:55"),
            Button("Our site", url="https://shop.example.com"),
            Button("Thanks"),
        )

        await outbound.send(outgoing(buttons=buttons))

        assert telegram_api.calls[0].json_param("reply_markup") == {
            "inline_keyboard": [
                [{"text": "Track parcel", "callback_data": "track:55"}],
                [{"text": "Our site", "url": "https://shop.example.com"}],
                [{"text": "Thanks", "callback_data": "Thanks"}],
            ]
        }

    async def test_a_payload_over_64_bytes_is_refused_naming_the_button(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        # 33 two-byte letters: 33 characters but 66 bytes.
        button = Button("Подробнее", payload="ж" * 33)

        with pytest.raises(PermanentSendError, match="'Подробнее' is longer than Telegram's 64 bytes"):
            await outbound.send(outgoing(buttons=(button,)))

        assert telegram_api.calls == []

    async def test_a_payload_of_exactly_64_bytes_is_sent(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        await outbound.send(outgoing(buttons=(Button("Go", payload="x" * 64),)))

        assert (
            telegram_api.calls[0].json_param("reply_markup")["inline_keyboard"][0][0]["callback_data"]
            == "x" * 64
        )

    async def test_a_share_phone_button_is_a_one_time_reply_keyboard(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        buttons = (Button("Share my phone", request_contact=True), Button("Skip", payload="skip"))

        await outbound.send(outgoing("Share your phone so we can find your orders", buttons=buttons))

        assert telegram_api.calls[0].json_param("reply_markup") == {
            "keyboard": [[{"text": "Share my phone", "request_contact": True}], [{"text": "Skip"}]],
            "one_time_keyboard": True,
            "resize_keyboard": True,
        }

    async def test_a_link_button_cannot_join_a_share_phone_button(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        buttons = (
            Button("Share my phone", request_contact=True),
            Button("Terms", url="https://shop.example.com"),
        )

        with pytest.raises(PermanentSendError, match="link button 'Terms'"):
            await outbound.send(outgoing(buttons=buttons))

        assert telegram_api.calls == []


class TestSendMedia:
    async def test_a_photo_by_url_carries_the_text_as_caption_and_the_buttons(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        photo = Attachment("image", url="https://cdn.example.com/parcel.jpg")

        result = await outbound.send(
            outgoing("Your parcel", attachments=(photo,), buttons=(Button("Got it", payload="ok"),))
        )

        assert result.provider_message_ids == ("42:1",)
        [call] = telegram_api.calls
        assert call.method == "sendPhoto"
        assert call.params["photo"] == "https://cdn.example.com/parcel.jpg"
        assert call.params["caption"] == "Your parcel"
        assert call.json_param("reply_markup") == {
            "inline_keyboard": [[{"text": "Got it", "callback_data": "ok"}]]
        }
        assert call.files == {}

    @pytest.mark.parametrize(
        ("kind", "method", "field"),
        [
            ("audio", "sendAudio", "audio"),
            ("video", "sendVideo", "video"),
            ("file", "sendDocument", "document"),
            ("voice", "sendDocument", "document"),
        ],
    )
    async def test_each_kind_goes_by_its_method(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
        kind: str,
        method: str,
        field: str,
    ) -> None:
        url = f"https://cdn.example.com/{kind}.bin"

        await outbound.send(outgoing("Here it is", attachments=(Attachment(kind, url=url),)))

        [call] = telegram_api.calls
        assert (call.method, call.params[field], call.params["caption"]) == (method, url, "Here it is")

    async def test_a_text_too_long_for_a_caption_follows_the_media(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        text = "word " * 300  # 1500 characters, over the 1024 caption limit
        photo = Attachment("image", url="https://cdn.example.com/a.jpg")

        result = await outbound.send(
            outgoing(text, attachments=(photo,), buttons=(Button("OK", payload="ok"),))
        )

        assert result.provider_message_ids == ("42:1", "42:2")
        photo_call, text_call = telegram_api.calls
        assert (photo_call.method, "caption" in photo_call.params, "reply_markup" in photo_call.params) == (
            "sendPhoto",
            False,
            False,
        )
        assert (text_call.method, text_call.params["text"]) == ("sendMessage", text)
        assert "inline_keyboard" in text_call.json_param("reply_markup")

    async def test_own_captions_are_kept_and_the_text_goes_on_the_last_attachment(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        attachments = (
            Attachment("image", url="https://cdn.example.com/front.jpg", caption="Front"),
            Attachment("file", url="https://cdn.example.com/manual.pdf"),
        )

        await outbound.send(outgoing("Photos and the manual", attachments=attachments))

        assert [(call.method, call.params["caption"]) for call in telegram_api.calls] == [
            ("sendPhoto", "Front"),
            ("sendDocument", "Photos and the manual"),
        ]

    async def test_an_attachment_without_url_is_refused(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        with pytest.raises(PermanentSendError, match="image attachment has no URL"):
            await outbound.send(outgoing(attachments=(Attachment("image", content=b"\x89PNG"),)))

        assert telegram_api.calls == []


class TestSendErrors:
    async def test_flood_control_is_rate_limited_with_telegrams_retry_after(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        telegram_api.script(retry_after(7))

        with pytest.raises(RateLimited) as raised:
            await outbound.send(outgoing())

        assert raised.value.retry_after == 7.0
        # The next attempt goes through once Telegram lets it.
        assert (await outbound.send(outgoing())).provider_message_ids == ("42:1",)

    @pytest.mark.parametrize("reply", [server_error(500), server_error(502), malformed()])
    async def test_server_errors_and_garbage_are_transient(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
        reply: Reply,
    ) -> None:
        telegram_api.script(reply)

        with pytest.raises(TransientSendError) as raised:
            await outbound.send(outgoing())

        assert type(raised.value) is TransientSendError

    async def test_a_slow_answer_times_out_as_transient(self, telegram_api: FakeTelegramAPI) -> None:
        telegram_api.script(slow(10))

        async with adapter_for(telegram_api.base_url, http_timeout=0.3) as adapter:
            with pytest.raises(TransientSendError, match="timeout"):
                await adapter.send(outgoing())

    async def test_an_unreachable_server_is_transient(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]

        async with adapter_for(f"http://127.0.0.1:{port}") as adapter:
            with pytest.raises(TransientSendError, match="could not reach Telegram"):
                await adapter.send(outgoing())

    @pytest.mark.parametrize(
        ("reply", "reason"),
        [
            (blocked(), "the person blocked the bot on Telegram"),
            (chat_not_found(), "Telegram chat not found: the person has not started the bot"),
        ],
    )
    async def test_refusals_are_permanent_with_a_plain_reason(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
        reply: Reply,
        reason: str,
    ) -> None:
        telegram_api.script(reply)

        with pytest.raises(PermanentSendError, match=reason):
            await outbound.send(outgoing())

    async def test_another_bad_request_keeps_telegrams_description(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        # The fake, like Telegram, refuses a caption over 1024 characters given with the attachment.
        photo = Attachment("image", url="https://cdn.example.com/a.jpg", caption="c" * 1025)

        with pytest.raises(
            PermanentSendError, match="Telegram rejected the message: message caption is too long"
        ):
            await outbound.send(outgoing("", attachments=(photo,)))

    async def test_a_wrong_token_is_permanent_and_not_revealed(self, telegram_api: FakeTelegramAPI) -> None:
        wrong = "987654321:REVOKED-token"

        async with adapter_for(telegram_api.base_url, token=wrong) as adapter:
            with pytest.raises(PermanentSendError, match="rejected the bot token") as raised:
                await adapter.send(outgoing())

        assert wrong not in str(raised.value)

    async def test_a_failure_on_a_later_part_fails_the_send(
        self,
        outbound: TelegramAdapter,
        telegram_api: FakeTelegramAPI,
    ) -> None:
        telegram_api.script(Reply(), server_error(503))
        text = " ".join(["first"] * 500) + "\n\n" + " ".join(["second"] * 300)

        with pytest.raises(TransientSendError):
            await outbound.send(outgoing(text))

        assert len(telegram_api.sent("sendMessage")) == 2
