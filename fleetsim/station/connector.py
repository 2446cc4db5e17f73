"""One connector's charging state: session, transaction and the energy meter.

The meter integrates power in simulated time (ev-models.md §3.4):
P = min(EVSE limit, profile limit, vehicle curve at SoC); the register is
monotonic across sessions and reported in whole Wh, so the increments reported
during a transaction always add up to meterStop − meterStart exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleetsim.drivers.charge import ChargeState
from fleetsim.drivers.session import Evse, Session

if TYPE_CHECKING:
    from fleetsim.station.v2x import V2xCar

__all__ = ["Connector", "Reservation", "Transaction"]



@dataclass(frozen=True, slots=True)
class Reservation:
    """A ReserveNow that holds a connector for one idTag until ``expiry_s`` (Unix s)."""

    reservation_id: int
    id_tag: str
    expiry_s: float
    parent_id_tag: str | None = None


class Transaction:
    """One transaction; its id may arrive later (1.6: from the StartTransaction answer)."""

    __slots__ = ("acknowledged", "id", "meter_start_wh", "refused", "seq_no", "started_s")

    def __init__(self, tx_id: str | int | None, meter_start_wh: int, started_s: float) -> None:
        self.id = tx_id
        # the CSMS answered its start: 1.6 a transactionId, 2.x the TransactionEvent Started
        self.acknowledged = False
        self.refused = ""  # the idTag status the CSMS refused it with (Invalid, Blocked, …)
        self.meter_start_wh = meter_start_wh
        self.started_s = started_s  # simulated seconds since the epoch
        self.seq_no = 0

    def next_seq(self) -> int:
        n = self.seq_no
        self.seq_no += 1
        return n


class Connector:
    """Mutable per-connector state, owned by one station core."""

    __slots__ = ("charge", "charging", "connector_id", "delivered_wh", "evse", "export_start_wh",
                 "export_wh", "exported_wh", "flow_t0", "full", "full_due", "id_tag", "last_sim",
                 "limit_w",
                 "meter_start_wh", "operative", "pending_operative",
                 "power_w", "register_wh", "remote_start_id", "reservation", "reservation_used",
                 "seq_no", "session", "soc", "status", "tx", "v2x", "wanted_wh")

    def __init__(self, connector_id: int, evse: Evse, register_wh: float = 0.0) -> None:
        self.connector_id = connector_id
        self.evse = evse
        self.status = "Available"
        self.session: Session | None = None
        self.id_tag = ""
        self.tx: Transaction | None = None   # the open transaction, station-side
        self.register_wh = register_wh
        self.meter_start_wh = 0
        self.delivered_wh = 0.0
        self.wanted_wh = 0.0
        self.soc = 0.0
        self.charge: ChargeState | None = None    # the plugged car's exact charging state
        self.power_w = 0.0
        self.limit_w: float | None = None
        self.charging = False
        self.full = False
        self.full_due = 0.0  # wall time the station's "full" timer was last armed for
        self.last_sim = 0.0
        self.operative = True                      # ChangeAvailability Operative/Inoperative
        self.pending_operative: bool | None = None  # Scheduled: applied when the session ends
        self.reservation: Reservation | None = None
        self.reservation_used: int | None = None   # the reservation this session consumed
        self.flow_t0 = 0.0          # when a CSMS command that starts a transaction arrived
        self.remote_start_id: int | None = None    # 2.x RequestStartTransaction remoteStartId
        self.export_wh = 0.0        # Energy.Active.Export.Register: monotonic, like register_wh
        self.exported_wh = 0.0      # exported during the plugged-in session [Wh]
        self.export_start_wh = 0    # the export register when the transaction opened
        self.v2x: V2xCar | None = None  # the plugged car can discharge (2.1 V2X), see v2x.py

    @property
    def busy(self) -> bool:
        return self.session is not None

    def plug(self, session: Session, sim_s: float) -> None:
        self.session = session
        self.id_tag = session.id_tag
        self.charge = ChargeState.for_session(session, self.evse)
        self.soc = session.soc_start
        self.delivered_wh = 0.0
        self.wanted_wh = session.energy_kwh * 1000.0
        self.full = False
        self.last_sim = sim_s
        self.exported_wh = 0.0

    def open_transaction(self, sim_s: float, tx_id: str | int | None) -> Transaction:
        """Start drawing power and open a transaction at the current register."""
        self.charging = True
        self.last_sim = sim_s
        self.meter_start_wh = int(self.register_wh)
        self.export_start_wh = int(self.export_wh)
        self.tx = Transaction(tx_id, self.meter_start_wh, sim_s)
        return self.tx

    def advance(self, sim_s: float) -> float:
        """Integrate exactly up to ``sim_s`` (closed form, no stepping); the energy added [Wh].

        ``power_w`` becomes the instantaneous power afterwards; the register moves by
        whole Wh whose sum is the rounded exact energy, so meterStop − meterStart is
        exactly the sum of the increments reported in between.
        """
        dt = sim_s - self.last_sim
        self.last_sim = sim_s
        ch = self.charge
        limit = self.limit_w
        if limit is not None and limit < 0.0 and self.charging and ch is not None:
            if self.v2x is not None:  # 2.1 V2X: a negative limit/setpoint discharges
                from fleetsim.station.v2x import discharge

                return discharge(self, ch, dt, -limit)
            limit = 0.0  # a car that cannot discharge just stops drawing
        if not self.charging or self.full or ch is None:
            self.power_w = 0.0
            return 0.0
        before = self.delivered_wh
        if dt > 0:
            step = ch.advance(dt, limit)
            self.register_wh += step.energy_wh
            self.delivered_wh = ch.delivered_wh
            self.soc = ch.soc
            self.full = ch.done
        self.power_w = ch.power_w(limit)
        return self.delivered_wh - before

    def seconds_to_full(self) -> float | None:
        """Simulated seconds until the car stops drawing at today's power (an estimate
        the core re-checks: on a taper the power only falls, so it is never late)."""
        ch = self.charge
        if not self.charging or self.full or self.power_w <= 0.0 or ch is None:
            return None
        return max(0.0, ch.room_wh) * 3600.0 / self.power_w

    def close_transaction(self) -> None:
        self.charging = False
        self.tx = None
        self.power_w = 0.0

    def unplug(self) -> None:
        self.close_transaction()
        self.session = None
        self.charge = None
        self.full = False
        self.v2x = None
