"""Backend policy without a network: boots, tokens, transaction ids, the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from fleetsim.csms import CsmsConfig, Ledger
from fleetsim.csms.backend import Backend
from fleetsim.csms.versions import OcppVersion
from fleetsim.exceptions import FleetsimError


def backend(**config: object) -> Backend:
    clock = lambda: datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)  # noqa: E731
    return Backend(config=CsmsConfig(**config), ledger=Ledger.open(":memory:"), clock=clock)  # type: ignore[arg-type]


def test_now_is_utc_with_milliseconds() -> None:
    assert backend().now_iso() == "2026-01-01T10:00:00.123Z"
    plus2 = timezone(timedelta(hours=2))
    b = Backend(
        config=CsmsConfig(),
        ledger=Ledger.open(":memory:"),
        clock=lambda: datetime(2026, 1, 1, 12, 0, tzinfo=plus2),
    )
    assert b.now_iso() == "2026-01-01T10:00:00.000Z"


def test_boot_policy_counts_per_station() -> None:
    b = backend(pending_first=1, reject_ids=frozenset({"R"}), heartbeat_interval_s=30)
    statuses = [b.boot(s, OcppVersion.V16, vendor=None, model=None).status for s in "AABR"]
    assert statuses == ["Pending", "Accepted", "Pending", "Rejected"]


def test_transaction_ids_with_stride_never_collide() -> None:
    issued = set()
    for offset in range(3):
        b = backend(transaction_id_stride=3, transaction_id_offset=offset)
        for _ in range(4):
            tx_id, _status = b.start_transaction(
                "S", connector_id=1, id_tag="x", meter_start_wh=0, timestamp="t"
            )
            issued.add(tx_id)
    assert issued == set(range(1, 13))


def test_authorize_no_authorization_tokens() -> None:
    b = backend(token_prefix=None)
    assert b.authorize("", "NoAuthorization") == "Accepted"
    assert b.authorize("", "ISO14443") == "Invalid"


@pytest.mark.parametrize(
    "bad",
    [
        {"port": 70000},
        {"heartbeat_interval_s": 0},
        {"pending_first": -1},
        {"pending_interval_s": 0},
        {"flush_interval_s": 0},
        {"transaction_id_stride": 2, "transaction_id_offset": 2},
        {"subprotocols": ("ocpp2.0",)},
    ],
)
def test_config_rejects_nonsense(bad: dict[str, object]) -> None:
    with pytest.raises(FleetsimError):
        CsmsConfig(**bad)  # type: ignore[arg-type]
