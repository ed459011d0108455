"""Rate limits shared by every worker: the scheduling arithmetic, the reservations in the database
(two reservers standing for two processes, on SQLite and PostgreSQL), and dispatchers sending under
an account's limit, a hook's own limit (a campaign's max_rate) and a provider's 429.

Times asserted are the times the limiter hands out (deterministic), or lower bounds on how long
sending took (a limit must make sending slower, never faster); no test depends on being quick."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from channels.contract import OutboundMessage
from hub.config import ConfigError, parse_config
from hub.db import Database
from hub.outbound.enqueue import enqueue
from hub.outbound.hooks import Send, Verdict
from hub.outbound.models import OutboxItem, OutboxStatus, RateLimitState
from hub.outbound.ratelimit import (
    ARRIVAL_MARGIN,
    HEADROOM,
    Hold,
    KeyState,
    Later,
    RateLimit,
    Request,
    Slot,
    hold_after_late,
    limits_of,
    schedule,
)
from hub.outbound.reservations import NotYet, Reservations, Reserved
from hub.runtime import Hub
from tests.conftest import HubFactory
from tests.fakes.callback_server import CallbackServer
from tests.fakes.telegram_api import TOKEN, FakeTelegramAPI

SECRET = "rate-limit-test-secret"


def interval(per_second: float) -> float:
    return 1 / (per_second * (1 - HEADROOM))


class TestSchedule:
    def test_one_limit_spaces_messages_one_interval_apart(self) -> None:
        limit = RateLimit("account:a", 10)
        states = {"account:a": KeyState()}
        slots = schedule(states, [Request((limit,), 10.0)] * 5, now=100.0)
        assert slots == [Slot(pytest.approx(100 + n * interval(10))) for n in range(5)]
        assert states["account:a"].next_at == pytest.approx(100 + 5 * interval(10))

    def test_a_burst_leaves_at_once_after_a_quiet_spell(self) -> None:
        limit = RateLimit("account:a", 10, burst=3)
        slots = schedule({"account:a": KeyState()}, [Request((limit,), 10.0)] * 5, now=100.0)
        assert [s.at for s in slots if isinstance(s, Slot)] == pytest.approx(
            [100, 100, 100, 100 + interval(10), 100 + 2 * interval(10)]
        )

    def test_the_slowest_limit_decides_and_every_limit_moves_on(self) -> None:
        account, campaign = RateLimit("account:a", 100), RateLimit("campaign:c", 10)
        states = {"account:a": KeyState(), "campaign:c": KeyState()}
        slots = schedule(states, [Request((account, campaign), 10.0)] * 3, now=100.0)
        assert [s.at for s in slots if isinstance(s, Slot)] == pytest.approx(
            [100 + n * interval(10) for n in range(3)]
        )
        # The account was used at the campaign's pace: its next time follows the last one used.
        assert states["account:a"].next_at == pytest.approx(100 + 2 * interval(10) + interval(100))
        # Another message on the account alone is not held back by the campaign.
        [other] = schedule(states, [Request((account,), 10.0)], now=100.0)
        assert other == Slot(pytest.approx(100 + 2 * interval(10) + interval(100)))

    def test_beyond_the_horizon_messages_are_told_when_to_ask_again_one_after_another(self) -> None:
        limit = RateLimit("account:a", 10)
        states = {"account:a": KeyState()}
        decided = schedule(states, [Request((limit,), 0.25)] * 6, now=100.0)
        given = [d for d in decided if isinstance(d, Slot)]
        told = [d.at for d in decided if isinstance(d, Later)]
        assert len(given) == 3  # 100, 100.1, 100.2: within a quarter of a second
        assert told == pytest.approx([100 + n * interval(10) for n in range(3, 6)])
        # Only the times given were taken.
        assert states["account:a"].next_at == pytest.approx(100 + 3 * interval(10))

    def test_a_late_message_holds_back_the_message_a_window_after_it(self) -> None:
        limit = RateLimit("account:a", 10)
        states = {"account:a": KeyState()}
        first = schedule(states, [Request((limit,), 10.0)], now=100.0)[0]
        assert isinstance(first, Slot)
        assert hold_after_late(limit, first.at, first.at + 0.002) is None  # within the headroom
        hold = hold_after_late(limit, first.at, first.at + 0.2)  # it arrived 200 ms late
        assert hold is not None
        states["account:a"].add_hold(hold)
        decided = schedule(states, [Request((limit,), 10.0)] * 12, now=100.0)
        times = [d.at for d in decided if isinstance(d, Slot)]
        # Nine more fit in the late one's window; the tenth keeps a full second from its arrival,
        # and the ones after it follow at the limit's pace again (the cost is paid once).
        assert times[:9] == pytest.approx([100 + n * interval(10) for n in range(1, 10)])
        assert times[9] == pytest.approx(first.at + 0.2 + ARRIVAL_MARGIN + 1.0)
        assert times[10] == pytest.approx(times[9] + interval(10))
        assert states["account:a"].holds == []

    def test_holds_are_not_kept_for_limits_no_window_can_reach(self) -> None:
        assert hold_after_late(RateLimit("account:fast", 100_000), 100.0, 101.0) is None

    def test_many_holds_on_one_limit_stay_few(self) -> None:
        state = KeyState()
        for n in range(300):
            state.add_hold(Hold(100.0 + n, 100.5 + n))
        assert len(state.holds) == 256
        assert state.holds[0] == Hold(100.0, 100.5 + 44)  # the earliest merged, covering them all

    @pytest.mark.parametrize(
        ("kwargs", "problem"),
        [({"per_second": 0}, "must be positive"), ({"per_second": 5, "burst": 0}, "at least 1")],
    )
    def test_a_limit_that_cannot_be_is_refused_with_its_key(
        self, kwargs: dict[str, Any], problem: str
    ) -> None:
        with pytest.raises(ValueError, match=problem) as refused:
            RateLimit("campaign:spring", **kwargs)
        assert "campaign:spring" in str(refused.value)


class TestAccountLimits:
    def test_the_rate_set_in_hub_yaml_replaces_the_channels_own(self) -> None:
        from hub.accounts import Accounts

        sms = {
            "type": "sms",
            "provider": "twilio",
            "account_sid": "AC" + "0" * 32,
            "auth_token": "token",
            "from": "+15005550006",
        }
        config = parse_config(
            {
                "public_url": "https://hub.example.com",
                "channels": {"plain": sms, "short-code": {**sms, "rate_per_second": 100}},
            },
            env={},
        )
        accounts = Accounts(config, b"k" * 32, None)
        assert limits_of(accounts.get("plain")).per_second == 1.0  # a long code: one per second
        assert limits_of(accounts.get("short-code")).per_second == 100.0

    def test_a_rate_that_is_not_positive_is_named(self) -> None:
        with pytest.raises(
            ConfigError, match=r"channels\.app\.rate_per_second: Input should be greater than 0"
        ):
            parse_config(
                {
                    "public_url": "https://hub.example.com",
                    "channels": {
                        "app": {
                            "type": "telegram",
                            "token": "1:x",
                            "webhook_secret": "s",
                            "rate_per_second": 0,
                        }
                    },
                },
                env={},
            )


class TestSharedReservations:
    async def test_two_processes_reserving_at_once_keep_one_interval_between_all_their_times(
        self, database_url: str
    ) -> None:
        # Two engines and two reservers: what two worker processes have.
        dbs = [Database(database_url), Database(database_url)]
        try:
            reservers = [Reservations(db) for db in dbs]
            limit = RateLimit("account:shared", 20)

            async def reserve_many(reservations: Reservations) -> list[float]:
                times = []
                for _ in range(15):
                    found = await asyncio.gather(*(reservations.reserve((limit,), 10.0) for _ in range(2)))
                    times += [r.at for r in found if isinstance(r, Reserved)]
                return times

            first, second = await asyncio.gather(*(reserve_many(r) for r in reservers))
            times = sorted(first + second)
            assert len(times) == 60 and first and second
            gaps = [b - a for a, b in itertools.pairwise(times)]
            assert min(gaps) >= interval(20) - 1e-6
        finally:
            for db in dbs:
                await db.dispose()

    async def test_a_pause_or_a_hold_from_one_process_holds_the_other_back(self, database_url: str) -> None:
        dbs = [Database(database_url), Database(database_url)]
        try:
            one, other = Reservations(dbs[0]), Reservations(dbs[1])
            paused = RateLimit("account:paused", 10)
            await one.pause(paused.key, 30)
            assert isinstance(await other.reserve((paused,), 1.0), NotYet)

            held = RateLimit("account:held", 10)
            first = await one.reserve((held,), 1.0)
            assert isinstance(first, Reserved)
            late = hold_after_late(held, first.at, first.at + 0.5)
            assert late is not None
            await one.hold(held.key, late)
            times = []
            for _ in range(11):
                got = await other.reserve((held,), 5.0)
                assert isinstance(got, Reserved)
                times.append(got.at)
            assert times[9] >= first.at + 1.5 - 1e-6  # a full second after the late one arrived
        finally:
            for db in dbs:
                await db.dispose()


class StampedCallbacks(CallbackServer):
    """The custom API channel's receiving end, noting when each message arrived."""

    def __init__(self, secret: str) -> None:
        super().__init__(secret)
        self.arrivals: list[float] = []

    async def _handle(self, request: web.Request) -> web.Response:
        self.arrivals.append(time.monotonic())
        return await super()._handle(request)


class StampedTelegram(FakeTelegramAPI):
    """The Bot API fake, noting when each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []

    async def _handle(self, request: web.Request) -> web.Response:
        self.arrivals.append(time.monotonic())
        return await super()._handle(request)


@pytest.fixture
async def provider() -> AsyncIterator[StampedCallbacks]:
    async with StampedCallbacks(SECRET) as server:
        yield server


async def api_hub(make_hub: HubFactory, provider: CallbackServer, rate: float) -> Hub:
    return await make_hub(
        {"app": {"type": "api", "secret": SECRET, "callback_url": provider.url, "rate_per_second": rate}}
    )


async def queue(
    hub: Hub,
    count: int,
    metadata: dict[str, Any] | None = None,
    account: str = "app",
    recipient: Callable[[int], str] = lambda n: f"user-{n}",
) -> None:
    async with hub.db.transaction() as session:
        for n in range(count):
            outbound = OutboundMessage(
                to=recipient(n), text=f"message {n}", idempotency_key=f"test:{n}", metadata=metadata or {}
            )
            await enqueue(session, idempotency_key=f"test:{n}", channel_account=account, outbound=outbound)


async def statuses(hub: Hub) -> list[tuple[OutboxStatus, int, str | None]]:
    async with hub.db.session() as session:
        rows = await session.execute(
            select(OutboxItem.status, OutboxItem.attempts, OutboxItem.last_error).order_by(OutboxItem.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


class TestDispatchersUnderLimits:
    async def test_two_dispatchers_together_keep_the_accounts_rate(self, make_hub: HubFactory) -> None:
        async with StampedTelegram() as telegram:
            bot = {
                "type": "telegram",
                "token": TOKEN,
                "webhook_secret": "secret",
                "api_base": telegram.base_url,
                "rate_per_second": 20,
            }
            hubs = [await make_hub({"bot": bot}) for _ in range(2)]
            for n, hub in enumerate(hubs):
                hub.dispatcher.worker_id = f"worker-{n}"
                hub.dispatcher.batch_size = 15
            await queue(hubs[0], 30, account="bot", recipient=lambda n: str(1000 + n))

            async def run(hub: Hub) -> None:
                while await hub.dispatcher.dispatch_due():
                    pass

            await asyncio.gather(*(run(hub) for hub in hubs))
        assert {status for status, _, _ in await statuses(hubs[0])} == {OutboxStatus.SENT}
        chats = sorted(int(call.params["chat_id"]) for call in telegram.sent("sendMessage"))
        assert chats == list(range(1000, 1030))
        # Each worker alone would send its 15 in 14 intervals; under the one shared limit the 30
        # take 29. (Two intervals of slack: the first message may leave late, and the span is
        # counted from it.)
        assert telegram.arrivals[-1] - telegram.arrivals[0] >= 27 * interval(20)

    async def test_a_hooks_own_limit_paces_its_rows(
        self, make_hub: HubFactory, provider: StampedCallbacks
    ) -> None:
        hub = await api_hub(make_hub, provider, rate=1000)
        paced = RateLimit("campaign:paced", 10)

        class Paced:
            """A hook (as the campaigns' is) that puts its rows under a limit of its own."""

            def concerns(self, payload: dict[str, Any]) -> bool:
                return bool(payload["metadata"].get("paced"))

            async def check(self, session: Any, payload: dict[str, Any]) -> Verdict:
                return Send(limits=(paced,))

            async def sent(
                self, session: Any, payload: dict[str, Any], provider_id: str | None, at: datetime
            ) -> None:
                pass

            async def failed(self, session: Any, payload: dict[str, Any], reason: str, at: datetime) -> None:
                pass

            async def dropped(self, session: Any, payload: dict[str, Any], reason: str) -> None:
                pass

        hub.dispatcher.hooks = (Paced(), *hub.dispatcher.hooks)
        await queue(hub, 8, {"paced": True})
        while await hub.dispatcher.dispatch_due():
            pass
        assert len(provider.accepted) == 8
        assert provider.arrivals[-1] - provider.arrivals[0] >= 6 * interval(10)
        async with hub.db.session() as session:
            keys = set((await session.execute(select(RateLimitState.key))).scalars())
        assert keys == {"account:app", "campaign:paced"}

    async def test_a_message_whose_time_is_far_off_goes_back_to_the_outbox_uncounted(
        self, make_hub: HubFactory, provider: StampedCallbacks
    ) -> None:
        hub = await api_hub(make_hub, provider, rate=0.5)
        # A 3 s lease: a worker keeps a row at most a second for its time; these are 2 s apart.
        hub.dispatcher.lease = hub.dispatcher.lease / 20
        await queue(hub, 4)
        assert await hub.dispatcher.dispatch_due() == 4
        rows = await statuses(hub)
        assert rows[0][0] is OutboxStatus.SENT
        for status, attempts, reason in rows[1:]:
            assert status is OutboxStatus.PENDING and attempts == 0
            assert reason is not None and reason.startswith("waiting for the rate limit (account:app)")
        async with hub.db.session() as session:
            due = list(
                (await session.execute(select(OutboxItem.next_attempt_at).order_by(OutboxItem.id))).scalars()
            )
        assert due[1] < due[2] < due[3], "each told its own time, in order"

    async def test_a_stopping_worker_puts_back_what_waits_for_its_time(
        self, make_hub: HubFactory, provider: StampedCallbacks
    ) -> None:
        hub = await api_hub(make_hub, provider, rate=2)
        await queue(hub, 6)
        running = asyncio.create_task(hub.dispatcher.run())
        for _ in range(600):  # until the first message is out
            if provider.accepted:
                break
            await asyncio.sleep(0.05)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        rows = await statuses(hub)
        sent = [row for row in rows if row[0] is OutboxStatus.SENT]
        assert len(sent) == len(provider.accepted) >= 1
        # Nothing left claimed: the rest is due again at once for any worker, no attempt counted.
        rest = [row for row in rows if row[0] is not OutboxStatus.SENT]
        assert len(rest) == 6 - len(sent)
        assert all(status is OutboxStatus.PENDING and attempts == 0 for status, attempts, _ in rest)
