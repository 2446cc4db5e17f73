"""A finished 2.x session's row waits for its TransactionEvent Started to be answered.

A car that came and went while its station was offline queues its Started and Ended
events; the engine hands finished sessions to the results every second. The row must
not go out (``csms_acknowledged: false``) before the replayed Started is answered, or
sessions.csv disagrees with the CSMS ledger, which holds the transaction.
No sockets: a real station core, the harness's scripted CSMS, the engine's session drain.
"""

from __future__ import annotations

from typing import Any

from fleetsim.scenario.model import OcppVersion
from fleetsim.transport import Engine, EngineOptions
from tests.station.harness import Exchange, make, session


async def test_a_session_ended_offline_waits_for_its_replayed_start_to_be_answered() -> None:
    st = make(OcppVersion.V201, (session(600, 900, kwh=5),))
    rows: list[tuple[Any, bool]] = []  # (transaction id, acknowledged when handed over)
    engine = Engine([st], ["ws://127.0.0.1:9/T000001"], recorder=st.rec,
                    options=EngineOptions(),
                    on_sessions=lambda batch: rows.extend(
                        (r["tx"].id, r["tx"].acknowledged) for r in batch))
    ex = Exchange(st)
    ex.open()
    ex.run_until(300)
    st.on_close(ex.now)  # offline before the car comes
    ex.run_until(1200)  # it came and went: Started … Ended queued
    assert st.finished_sessions and st.offline_pending >= 2
    engine.drain_sessions()
    assert rows == []  # not yet: the CSMS has not seen the transaction
    ex.open()  # back online: boot, the queue replayed and answered
    ex.run_until(ex.now + 60)
    engine.drain_sessions()
    assert len(rows) == 1 and rows[0][0] and rows[0][1] is True


async def test_the_runs_end_hands_over_every_held_session() -> None:
    st = make(OcppVersion.V201, (session(600, 900, kwh=5),))
    rows: list[bool] = []
    engine = Engine([st], ["ws://127.0.0.1:9/T000001"], recorder=st.rec,
                    options=EngineOptions(),
                    on_sessions=lambda batch: rows.extend(r["tx"].acknowledged for r in batch))
    ex = Exchange(st)
    ex.open()
    ex.run_until(300)
    st.on_close(ex.now)
    ex.run_until(1200)
    engine.drain_sessions(final=True)  # never answered: its row still goes out, unacknowledged
    assert rows == [False]
