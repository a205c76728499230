"""Number formats of the stats page: money as people read a bill, rates as percentages.

Apart from `taskweb.py` (the trace's formats) because a projection shows $9.75 and $0.975,
not the trace's fixed four decimals.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()


@register.filter
def money(value: Any) -> str:
    """$1,234.50, $9.75, $0.975, $0.000195: at least cents, at most six decimals."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ""
    amount = amount.quantize(Decimal("0.000001")).normalize()
    exponent = amount.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"${amount:,.{places}f}"


@register.filter
def percent(value: Any) -> str:
    """A share (0..1) as a percentage: 0.1 → 10%, 0.125 → 12.5%."""
    try:
        share = Decimal(str(value)) * 100
    except (InvalidOperation, ValueError):
        return ""
    return f"{share.quantize(Decimal('0.01')).normalize():f}%"
