"""The demo traffic's seeded plan: who visits, how they arrive, and who would buy.

Pure and deterministic: `TrafficPlan.visits()` yields the same visitors for the same plan, one at
a time (a generator, so a large plan costs no memory). Every visitor draws the same random
numbers whatever their kind, and the purchase draw is made up front, so whether a visitor orders
depends only on the plan and the variation kx-edge gives them, never on the order in which
concurrent requests are answered. A test recomputes the expected results from the same plan.

The story the numbers tell: the demo's hero headline test (`DEMO_TEST`) shows "Gear that goes
further" (`TREATMENT`) to half the visitors. Anonymous visitors buy as often whatever the
headline; VIPs arriving from a Klaviyo email buy more often with the new one.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from sandbox import DEMO_PEOPLE

DEMO_TEST = "hero-copy"
"""The demo experience the traffic gives a winner: an untargeted A/B test of the headline."""
TREATMENT = "further"
"""Its variation that lifts VIPs' conversion."""

VIP_KX: tuple[str, ...] = tuple(p.kx for p in DEMO_PEOPLE if "VIP" in p.segments)
"""The sandbox's VIPs: their `_kx` identifies a visitor as a member of the VIP segment."""

BROWSER_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
)
BOT_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
)


class Kind(StrEnum):
    VIP = "vip"
    ANONYMOUS = "anonymous"
    BOT = "bot"


@dataclass(frozen=True, slots=True)
class Rates:
    """Chance that a visitor orders, by who they are and the headline they saw."""

    anonymous: float = 0.03
    vip_control: float = 0.06
    vip_treatment: float = 0.12

    def of(self, kind: Kind, variation_id: str | None) -> float:
        if kind is Kind.BOT:
            return 0.0
        if kind is Kind.ANONYMOUS:
            return self.anonymous
        return self.vip_treatment if variation_id == TREATMENT else self.vip_control


@dataclass(frozen=True, slots=True)
class PlannedVisit:
    number: int
    visitor_id: str
    kind: Kind
    kx: str | None
    user_agent: str
    draw: float
    """Uniform in [0, 1): the visitor orders when it is below their rate."""
    order_value: float

    @property
    def order_id(self) -> str:
        return f"demo-order-{self.number:06d}"

    def orders(self, rates: Rates, variation_id: str | None) -> bool:
        """Whether this visitor buys, having seen `variation_id` of the demo test."""
        return self.draw < rates.of(self.kind, variation_id)


@dataclass(frozen=True, slots=True)
class TrafficPlan:
    visitors: int = 4_000
    seed: int = 16
    bot_share: float = 0.02
    vip_share: float = 0.5
    rates: Rates = field(default_factory=Rates)
    mean_order_value: float = 80.0
    order_value_spread: float = 0.35  # sigma of the log-normal order value
    currency: str = "USD"
    concurrency: int = 16

    def visits(self) -> Iterator[PlannedVisit]:
        rng = random.Random(self.seed)
        mu = math.log(self.mean_order_value) - self.order_value_spread**2 / 2
        for number in range(self.visitors):
            who, pick_kx, pick_ua = rng.random(), rng.randrange(len(VIP_KX)), rng.random()
            draw = rng.random()
            value = round(rng.lognormvariate(mu, self.order_value_spread), 2)
            visitor_id = f"demo-{rng.getrandbits(64):016x}"
            if who < self.bot_share:
                kind, kx, agents = Kind.BOT, None, BOT_USER_AGENTS
            elif who < self.bot_share + (1 - self.bot_share) * self.vip_share:
                kind, kx, agents = Kind.VIP, VIP_KX[pick_kx], BROWSER_USER_AGENTS
            else:
                kind, kx, agents = Kind.ANONYMOUS, None, BROWSER_USER_AGENTS
            yield PlannedVisit(
                number=number,
                visitor_id=visitor_id,
                kind=kind,
                kx=kx,
                user_agent=agents[int(pick_ua * len(agents))],
                draw=draw,
                order_value=max(value, 1.0),
            )
