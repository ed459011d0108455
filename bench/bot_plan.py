"""What the customers of bench/bots.py say, and where their support flows wait afterwards.

Every customer loops through the three questions of flows/support.yaml that need no outside system:
``menu`` -> "I have a question" -> ``question`` -> an FAQ question -> ``anything_else`` -> "yes" ->
``menu``. Customers are seeded waiting at one of them (customer i at ``CYCLE[i % 3]``); a turn
answers the question the customer's flow waits at, or is a "Hello" from a new customer, which starts
the flow. The plan is built once, before either run, so both runs get exactly the same messages, and
it predicts how many replies the bot run must queue and where every flow waits at the end, which
the bench checks against the database.

Two phases: the peak phase, where each closed-loop client owns a share of the customers (so no
customer has two messages in flight), and the paced phase, sent on a clock whatever the hub does,
where each customer speaks at most once for the same reason. The paced phase is planned once the
peak phase has shown which rate to send at (``Plan.with_paced``).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace

# The steps customers are seeded at, in the order the loop goes through them.
CYCLE = ("menu", "question", "anything_else")
# Exact FAQ questions of flows/faq/support.yaml: each is answered at once (no suggestions).
FAQ_QUESTIONS = (
    "What are your opening hours?",
    "How long does delivery take?",
    "How do I return an item?",
    "Which payment methods do you accept?",
)


@dataclass(frozen=True)
class Move:
    """A message, the step the support flow then waits at, and how many replies it queues."""

    text: str
    then: str
    replies: int


# A new customer's greeting: the support flow starts (its welcome and the menu question).
START = Move("Hello", "menu", 2)


def answer_at(step: str, turn: int) -> Move:
    """The answer to the step a customer's flow waits at (``turn`` varies the FAQ question)."""
    if step == "menu":
        return Move("I have a question", "question", 1)  # the question's prompt
    if step == "question":
        return Move(FAQ_QUESTIONS[turn % len(FAQ_QUESTIONS)], "anything_else", 2)  # answer, next question
    if step == "anything_else":
        return Move("yes", "menu", 1)  # the menu again
    raise ValueError(f"no answer for step {step!r}")


def template_script(index: int) -> list[Move]:
    """What template customer ``index`` says, through the real pipeline, to end up waiting at
    ``CYCLE[index]``."""
    moves = [START]
    while moves[-1].then != CYCLE[index]:
        moves.append(answer_at(moves[-1].then, len(moves)))
    return moves


def visitor_id(index: int) -> str:
    """The web chat visitor id of seeded customer ``index`` (customers 0-2 are the templates)."""
    return f"bench-{index:06d}"


@dataclass(frozen=True)
class Turn:
    visitor: str
    message_id: str
    text: str
    name: str | None  # sent with a customer's first message, as the widget does
    replies: int  # bot messages the bot run must queue for it


class _Customers:
    """Where each customer's flow waits as the plan goes on."""

    def __init__(self, waiting: dict[str, str]) -> None:
        self.waiting = waiting
        self.new = 0

    def new_customer(self, visitor: str, message_id: str) -> Turn:
        self.waiting[visitor] = START.then
        self.new += 1
        return Turn(visitor, message_id, START.text, f"Customer {visitor}", START.replies)

    def answer(self, visitor: str, message_id: str, number: int) -> Turn:
        move = answer_at(self.waiting[visitor], number)
        self.waiting[visitor] = move.then
        return Turn(visitor, message_id, move.text, None, move.replies)


@dataclass(frozen=True)
class Plan:
    """The seeded customers and every turn; the same for both runs."""

    steps: tuple[str, ...]  # seeded customer i waits at steps[i]
    clients: tuple[tuple[Turn, ...], ...]  # peak phase: each closed-loop client's turns, in order
    paced: tuple[Turn, ...]  # paced phase, in sending order
    waiting: Mapping[str, str]  # visitor -> where their flow waits after all turns
    new_customers: int
    seed: int

    @property
    def peak_turns(self) -> int:
        return sum(len(c) for c in self.clients)

    @property
    def turns(self) -> int:
        return self.peak_turns + len(self.paced)

    @property
    def replies(self) -> int:
        return sum(t.replies for c in (*self.clients, self.paced) for t in c)

    @property
    def final_steps(self) -> Counter[str]:
        return Counter(self.waiting.values())

    def with_paced(self, count: int, new_share: float) -> Plan:
        """This plan and ``count`` paced turns after its other turns: distinct customers at random
        (a customer speaks at most once, since nobody waits for the answer before sending the
        next), or with ``new_share`` chance a new customer's greeting."""
        state = _Customers(dict(self.waiting))
        rng = random.Random(self.seed)
        speakers = iter(rng.sample(sorted(state.waiting), min(count, len(state.waiting))))
        paced = list(self.paced)
        for number in range(len(paced), len(paced) + count):
            message_id = f"paced-{number:06d}"
            visitor = next(speakers, None) if rng.random() >= new_share else None
            if visitor is None:
                paced.append(state.new_customer(f"bench-paced-{number:06d}", message_id))
            else:
                paced.append(state.answer(visitor, message_id, number))
        return replace(
            self, paced=tuple(paced), waiting=state.waiting, new_customers=self.new_customers + state.new
        )


def make_plan(customers: int, peak_turns: int, concurrency: int, new_share: float, seed: int = 7) -> Plan:
    """The seeded customers and the peak phase: customer i belongs to client i % concurrency, which
    picks its customers at random (or, with ``new_share`` chance, greets as a new customer)."""
    steps = [CYCLE[i % len(CYCLE)] for i in range(customers)]
    state = _Customers({visitor_id(i): step for i, step in enumerate(steps)})
    clients = []
    for client in range(concurrency):
        rng = random.Random(seed * 100_003 + client)
        owned = [visitor_id(i) for i in range(client, customers, concurrency)]
        planned: list[Turn] = []
        for number in range(peak_turns // concurrency + (client < peak_turns % concurrency)):
            message_id = f"peak-{client:04d}-{number:06d}"
            if rng.random() < new_share or not owned:
                visitor = f"bench-new-{client:04d}-{number:06d}"
                owned.append(visitor)
                planned.append(state.new_customer(visitor, message_id))
            else:
                planned.append(state.answer(rng.choice(owned), message_id, number))
        clients.append(tuple(planned))
    return Plan(tuple(steps), tuple(clients), (), state.waiting, state.new, seed)
