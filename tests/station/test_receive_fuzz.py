"""Property-based: arbitrary and malformed OCPP-J frames never make the receive path raise.

Each frame is classified: answered call, CALLRESULT/CALLERROR matched or counted as
unexpected, or a counted fault. The station stays usable afterwards.
"""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetsim.scenario.model import OcppVersion
from fleetsim.station.frames import CallResultError, Frame, Malformed, parse_frame
from tests.station.harness import make

json_scalar = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(
    allow_nan=False, allow_infinity=False) | st.text(
    max_size=40)
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
msg_ids = st.sampled_from(["1", "2", "x", "", "9" * 40]) | st.text(max_size=40) | st.integers(0, 99)
frames = st.one_of(
    st.binary(max_size=200),
    json_value.map(orjson.dumps),
    st.tuples(st.sampled_from([2, 3, 4, 5, "3", None]), msg_ids, json_value, json_value,
              json_value).map(lambda t: orjson.dumps(list(t[: 2 + (len(str(t)) % 4)]))),
    st.tuples(msg_ids, st.sampled_from(["Reset", "Heartbeat", "FooBar", "", "TriggerMessage"]),
              json_value).map(lambda t: orjson.dumps([2, t[0], t[1], t[2]])),
)


@given(frames)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_parse_frame_never_raises(raw: bytes) -> None:
    assert isinstance(parse_frame(raw), Frame)  # every kind, 2.1 SEND and CALLRESULTERROR too


@given(st.lists(frames, min_size=1, max_size=8), st.sampled_from(list(OcppVersion)))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_station_receive_path_classifies_everything(raws: list[bytes], version: OcppVersion) -> None:
    st_ = make(version)
    st_.on_open(0.0)
    st_.out.clear()
    rec = st_.rec
    for i, raw in enumerate(raws):
        # every kind: a fault, a CSMS CALL, an answer to ours, a 2.1 CALLRESULTERROR
        before = (sum(rec.faults.values()), sum(rec.incoming.values()),
                  sum(a.answered + sum(a.errors.values()) for a in rec.actions.values()),
                  sum(rec.wire.resulterrors_received.values()))
        st_.on_frame(raw, 0.1 * (i + 1))  # must not raise
        after = (sum(rec.faults.values()), sum(rec.incoming.values()),
                 sum(a.answered + sum(a.errors.values()) for a in rec.actions.values()),
                 sum(rec.wire.resulterrors_received.values()))
        assert after != before, f"frame {raw!r} was neither counted nor answered"
        for out in st_.out:
            reply = orjson.loads(out)
            assert reply[0] in (2, 3, 4)
        st_.out.clear()
    # still usable: a well-formed boot answer is processed if the boot is still in flight
    assert st_.next_wake() >= 0


def test_a_callresulterror_must_have_all_five_fields() -> None:
    """2.1 part 4: [5, messageId, errorCode, errorDescription, errorDetails]; the frame
    Hypothesis found, with no errorDetails, a null description and an empty code, is a
    malformed frame (a counted fault, never answered), not a CALLRESULTERROR."""
    assert parse_frame(b'[5," ","",null]') == Malformed("bad_frame")
    assert parse_frame(b'[5,"a","FormatViolation","x",null]') == Malformed("bad_frame")
    assert parse_frame(b'[5,"a","FormatViolation","",{}]') == CallResultError(
        "a", "FormatViolation", "")
    st_ = make(OcppVersion.V21)
    st_.on_frame(b'[5," ","",null]', 0.1)
    assert st_.rec.faults["received_bad_frame"] == 1 and not st_.out
    st_.on_frame(b'[5,"a","FormatViolation","",{}]', 0.2)
    assert st_.rec.wire.resulterrors_received == {"2.1/FormatViolation": 1}
