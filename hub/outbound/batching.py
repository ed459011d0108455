"""Many small requests served by one database transaction: what the dispatcher's concurrent sends
ask of the database (a time under the rate limits, the record of an outcome) goes through a
``Batcher``, which runs one ``flush`` at a time with everything asked for since the last one began.

Nothing waits for a batch to fill: an idle batcher flushes the first request at once, and while a
flush runs the next requests gather — under load the batches grow by themselves, so a thousand
sends a second cost tens of transactions a second, not thousands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Request = TypeVar("Request")
Result = TypeVar("Result")

Flush = Callable[[Sequence[Request]], Awaitable[Sequence[Result]]]


class Batcher(Generic[Request, Result]):
    """``submit`` a request, get its result; ``flush`` (the same length and order as its requests)
    runs with up to ``max_batch`` requests at a time. A flush that raises fails its requests."""

    def __init__(self, flush: Flush[Request, Result], max_batch: int = 1000) -> None:
        self._flush = flush
        self.max_batch = max_batch
        self._waiting: list[tuple[Request, asyncio.Future[Result]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            try:
                results = await self._flush([request for request, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except BaseException:
                # Cancelled (the hub stops): whatever still waits is cancelled with it.
                for _, future in [*batch, *self._waiting]:
                    future.cancel()
                self._waiting.clear()
                raise
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
