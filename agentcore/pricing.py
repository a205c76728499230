"""Cost of a model call from token counts and a backend's list prices."""

from __future__ import annotations

from decimal import Decimal

MILLION = Decimal(1_000_000)


def cost(
    input_tokens: int,
    output_tokens: int,
    *,
    price_in_per_mtok: Decimal,
    price_out_per_mtok: Decimal,
) -> Decimal:
    """Dollar cost of one call; prices are per million tokens, as providers list them."""
    return (
        Decimal(input_tokens) * price_in_per_mtok + Decimal(output_tokens) * price_out_per_mtok
    ) / MILLION


def estimate_tokens(text: str) -> int:
    """Rough token count for servers that report none (about four characters a token)."""
    return max(1, (len(text) + 3) // 4) if text else 0
