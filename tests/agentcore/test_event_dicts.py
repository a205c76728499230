"""`events.plain` turns every payload into what `dataclasses.asdict` gives, without its copies.

Stored steps and frames are built from `plain`; a payload field it dropped or shaped
differently would change what the audit trail and the browser receive.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentcore.events import PAYLOADS, Event, plain

json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def payloads(draw: st.DrawFn) -> Any:
    cls = draw(st.sampled_from(sorted(PAYLOADS.values(), key=lambda c: c.__name__)))
    values = {f.name: draw(json_values) for f in dataclasses.fields(cls) if draw(st.booleans())}
    return cls(**values)


# Generated nested values are slow to draw on a loaded 2-core machine: no deadline, no
# too-slow health check (the property is what matters).
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(payloads())
def test_plain_is_asdict_as_json(payload: Any) -> None:
    expected = json.loads(json.dumps(dataclasses.asdict(payload)))
    assert json.loads(json.dumps(plain(payload))) == expected
    assert list(plain(payload)) == list(dataclasses.asdict(payload)), "same keys, same order"


@SETTINGS
@given(payloads())
def test_changing_the_dict_leaves_the_event_alone(payload: Any) -> None:
    before = json.dumps(dataclasses.asdict(payload))
    data = plain(Event(run_id="1", seq=1, payload=payload))
    for value in data.values():
        if isinstance(value, dict):
            value["added"] = 1
        elif isinstance(value, list):
            value.append(1)
    assert json.dumps(dataclasses.asdict(payload)) == before
