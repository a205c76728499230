"""Monthly cost projection: what a traffic profile would cost on each backend, and on a hybrid.

Pure arithmetic over `Decimal`, no ORM and no floats, so that the figures people compare
(50,000 requests x 500 in / 200 out on gpt-4o-mini = $9.75) come out exact and testable.
A "request" is one user message (one agent run); its tokens are the sum over all model calls
of the run, because that is what a person pays for when they send a message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

MILLION = Decimal(1_000_000)


@dataclass(frozen=True, kw_only=True)
class Price:
    """List prices of one backend profile."""

    name: str
    """Profile name, as shown in the stats table."""
    model: str = ""
    locality: str = "local"
    """local or cloud: the monthly hardware cost applies to local backends only."""
    price_in_per_mtok: Decimal = Decimal(0)
    """Dollars per million input tokens."""
    price_out_per_mtok: Decimal = Decimal(0)
    """Dollars per million output tokens."""


@dataclass(frozen=True, kw_only=True)
class Traffic:
    """The load to project, usually pre-filled from the user's own runs."""

    requests_per_month: int
    avg_input_tokens: Decimal
    """Average input tokens per request (all model calls of a run)."""
    avg_output_tokens: Decimal
    """Average output tokens per request."""


@dataclass(frozen=True, kw_only=True)
class ProfileCost:
    """One profile's monthly bill for the traffic."""

    price: Price
    per_request: Decimal
    """Dollars for one average request."""
    tokens: Decimal
    """Dollars a month for tokens at list prices."""
    hardware: Decimal
    """Monthly hardware cost counted for it (local backends only)."""

    @property
    def total(self) -> Decimal:
        return self.tokens + self.hardware


@dataclass(frozen=True, kw_only=True)
class HybridCost:
    """A custom model answering everything, a foundation model taking a share as fallback."""

    custom: Price
    foundation: Price
    fallback_rate: Decimal
    """Share of requests (0..1) that fall back to the foundation model."""
    custom_tokens: Decimal
    """Dollars for the custom model's tokens: it sees every request, also those that fail."""
    foundation_tokens: Decimal
    """Dollars for the fallback share at the foundation model's prices."""
    hardware: Decimal

    @property
    def tokens(self) -> Decimal:
        return self.custom_tokens + self.foundation_tokens

    @property
    def total(self) -> Decimal:
        return self.tokens + self.hardware


def cost_per_request(price: Price, traffic: Traffic) -> Decimal:
    """Dollars for one average request at a profile's list prices."""
    return (
        traffic.avg_input_tokens * price.price_in_per_mtok
        + traffic.avg_output_tokens * price.price_out_per_mtok
    ) / MILLION


def monthly_token_cost(price: Price, traffic: Traffic) -> Decimal:
    """Dollars a month for the traffic's tokens on one profile."""
    return cost_per_request(price, traffic) * traffic.requests_per_month


def profile_costs(
    prices: Iterable[Price], traffic: Traffic, *, hardware: Decimal = Decimal(0)
) -> list[ProfileCost]:
    """Each profile's monthly bill; local profiles also carry the machine's monthly cost."""
    return [
        ProfileCost(
            price=p,
            per_request=cost_per_request(p, traffic),
            tokens=monthly_token_cost(p, traffic),
            hardware=hardware if p.locality == "local" else Decimal(0),
        )
        for p in prices
    ]


def hybrid_cost(
    *,
    custom: Price,
    foundation: Price,
    traffic: Traffic,
    fallback_rate: Decimal,
    hardware: Decimal = Decimal(0),
) -> HybridCost:
    """The custom model for every request plus the foundation model for the fallback share.

    The custom model is charged for all requests (a fallback happens after it was tried);
    at a local model's zero list price that adds nothing, and the machine shows up as
    `hardware` instead.
    """
    rate = min(max(fallback_rate, Decimal(0)), Decimal(1))
    return HybridCost(
        custom=custom,
        foundation=foundation,
        fallback_rate=rate,
        custom_tokens=monthly_token_cost(custom, traffic),
        foundation_tokens=monthly_token_cost(foundation, traffic) * rate,
        hardware=hardware,
    )


def per_month(count: int, days: Decimal) -> int:
    """Scale a count seen over `days` to a 30-day month (at least one day of observation)."""
    days = max(days, Decimal(1))
    return int((Decimal(count) * 30 / days).to_integral_value())
