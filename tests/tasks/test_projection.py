"""The cost projection's arithmetic, including the figures people check it against."""

from __future__ import annotations

from decimal import Decimal

from tasks.projection import (
    Price,
    Traffic,
    cost_per_request,
    hybrid_cost,
    monthly_token_cost,
    per_month,
    profile_costs,
)

GPT_4O_MINI = Price(
    name="openai-cloud",
    model="gpt-4o-mini",
    locality="cloud",
    price_in_per_mtok=Decimal("0.15"),
    price_out_per_mtok=Decimal("0.60"),
)
LOCAL = Price(name="ollama-local", model="task-api-model", locality="local")
EXAMPLE = Traffic(
    requests_per_month=50_000, avg_input_tokens=Decimal(500), avg_output_tokens=Decimal(200)
)


def test_fifty_thousand_requests_on_gpt_4o_mini_cost_nine_dollars_seventy_five():
    assert monthly_token_cost(GPT_4O_MINI, EXAMPLE) == Decimal("9.75")


def test_one_request_costs_its_tokens_at_list_prices():
    # 500 x $0.15/M + 200 x $0.60/M = $0.000075 + $0.00012
    assert cost_per_request(GPT_4O_MINI, EXAMPLE) == Decimal("0.000195")


def test_hybrid_with_a_local_model_and_ten_percent_fallback_costs_a_tenth_plus_hardware():
    hybrid = hybrid_cost(
        custom=LOCAL, foundation=GPT_4O_MINI, traffic=EXAMPLE, fallback_rate=Decimal("0.10")
    )
    assert hybrid.custom_tokens == 0
    assert hybrid.foundation_tokens == Decimal("0.975")
    assert hybrid.total == Decimal("0.975")
    with_machine = hybrid_cost(
        custom=LOCAL,
        foundation=GPT_4O_MINI,
        traffic=EXAMPLE,
        fallback_rate=Decimal("0.10"),
        hardware=Decimal(120),
    )
    assert with_machine.total == Decimal("120.975")


def test_a_priced_custom_model_is_charged_for_every_request_also_those_that_fall_back():
    custom = Price(
        name="vllm", price_in_per_mtok=Decimal("0.02"), price_out_per_mtok=Decimal("0.04")
    )
    hybrid = hybrid_cost(
        custom=custom, foundation=GPT_4O_MINI, traffic=EXAMPLE, fallback_rate=Decimal("0.5")
    )
    # 50,000 x (500 x 0.02 + 200 x 0.04) / 1M = 0.9; half of 9.75 = 4.875
    assert hybrid.custom_tokens == Decimal("0.9")
    assert hybrid.total == Decimal("5.775")


def test_fallback_rate_is_clamped_to_a_share_between_none_and_all():
    never = hybrid_cost(custom=LOCAL, foundation=GPT_4O_MINI, traffic=EXAMPLE, fallback_rate=-1)
    always = hybrid_cost(custom=LOCAL, foundation=GPT_4O_MINI, traffic=EXAMPLE, fallback_rate=3)
    assert never.total == 0
    assert always.total == Decimal("9.75")


def test_hardware_is_counted_for_local_profiles_only():
    costs = profile_costs([LOCAL, GPT_4O_MINI], EXAMPLE, hardware=Decimal(80))
    assert [(c.price.name, c.tokens, c.hardware, c.total) for c in costs] == [
        ("ollama-local", 0, Decimal(80), Decimal(80)),
        ("openai-cloud", Decimal("9.75"), 0, Decimal("9.75")),
    ]


def test_no_traffic_costs_nothing():
    idle = Traffic(requests_per_month=0, avg_input_tokens=Decimal(0), avg_output_tokens=Decimal(0))
    assert monthly_token_cost(GPT_4O_MINI, idle) == 0


def test_counts_are_scaled_to_a_thirty_day_month():
    assert per_month(10, Decimal(1)) == 300
    assert per_month(70, Decimal(7)) == 300
    assert per_month(5, Decimal("0.25")) == 150  # less than a day counts as one day
