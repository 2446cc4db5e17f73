"""OCPP 2.1 tariffs, local cost and ad hoc payment (2.1 part 2 §I and §C, use cases I11–I14,
C18–C24 as fleetsim reads them).

**Tariffs.** A 2.1 station keeps a tariff store: SetDefaultTariff puts a default tariff on
one EVSE (or, evseId 0, on all), GetTariffs lists them, ClearTariffs removes them,
ChangeTransactionTariff replaces the tariff of one running transaction (a new charging
period starts; the currency must not change). A transaction takes the default tariff of its
EVSE (else of evseId 0) when it starts. fleetsim prices energy (``priceKwh``), charging
time and idle time (``priceMinute``) and a fixed fee, with their tax rates, and clamps to
``minCost``/``maxCost``; a price with ``conditions`` (time of day, power bands …) is
answered ``ConditionNotSupported`` rather than priced wrongly.

**Local cost.** A transaction that has a tariff carries ``transactionInfo.tariffId`` and, in
its Ended TransactionEvent, ``costDetails``: one charging period per tariff it ran under
(Energy in Wh, ChargingTime and IdleTIme in s), total usage and the total cost. Charging
time is time the car drew (or gave) power after authorisation; idle time the rest of the
authorised time.

**Ad hoc payment.** A share of the sessions on 2.1 stations (``ocpp.adhoc_share``; a stable
hash of seed, station and session, so the plan is unchanged and ``fleetsim plan`` can count
them) pay ad hoc instead of with their card:

- ``QR_SHARE`` [A] 0.5 of them scan the station's QR code and pay on the CSMS's web page:
  the station sends TransactionEvent Started and waits, without Authorize. The CSMS tells it
  NotifyWebPaymentStarted (evseId, timeout) and then RequestStartTransaction for that EVSE
  with a ``DirectPayment`` idToken; the station authorises the waiting transaction with it
  (F02, cable plugged in first). No payment before the car leaves: nothing charged.
- the others pay at the station's payment terminal (C18): no Authorize, the transaction runs
  under a ``DirectPayment`` idToken (the PSP reference); ``VAT_SHARE`` [A] 0.2 of them are
  businesses that enter a VAT number first (VatNumberValidation). When the transaction ends
  the station settles the local cost (incl. tax) and sends NotifySettlement, with the VAT
  number and the company the CSMS returned. A terminal payment needs a tariff (the terminal
  must know the price): without one the driver uses their card.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from fleetsim.station import lifecycle as lc
from fleetsim.station.dispatch import Handler

if TYPE_CHECKING:
    from fleetsim.drivers.session import Session
    from fleetsim.station.connector import Connector
    from fleetsim.station.v2 import Station2, Station21

__all__ = ["PAYMENT_HANDLERS", "QR_SHARE", "VAT_SHARE", "accrue", "cost_details",
           "payment_kind", "price"]

P = dict[str, Any]
QR_SHARE = 0.5    # [A] ad hoc payers who pay by QR code on the web (the rest: the terminal)
VAT_SHARE = 0.2   # [A] terminal payers who are businesses and enter a VAT number
MAX_TARIFFS = 8   # [A] TariffCostCtrlr.MaxElements-like cap on stored default tariffs
_COMPONENTS = ("energy", "chargingTime", "idleTime", "fixedFee")


def payment_kind(seed: int, station_id: str, session: Session, share: float) -> str | None:
    """How the driver of ``session`` pays: None (their idToken), ``"qr"`` or ``"terminal"``.

    A stable hash of seed, station, connector and arrival: deterministic, independent of
    the plan's random streams, so the same scenario and seed give the same payers."""
    if share <= 0.0:
        return None
    key = f"{seed}/{station_id}/{session.connector_id}/{session.arrival_s:.3f}".encode()
    h = hashlib.blake2b(key, digest_size=8).digest()
    u, v = int.from_bytes(h[:4], "big") / 2**32, int.from_bytes(h[4:], "big") / 2**32
    if u >= share:
        return None
    return "qr" if v < QR_SHARE else "terminal"


def _vat(seed: int, station_id: str, session: Session) -> str | None:
    key = f"vat/{seed}/{station_id}/{session.arrival_s:.3f}".encode()
    h = hashlib.blake2b(key, digest_size=8).digest()
    if int.from_bytes(h[:4], "big") / 2**32 >= VAT_SHARE:
        return None
    return f"NL{int.from_bytes(h[4:], 'big') % 10**9:09d}B01"  # a Dutch-format VAT number


# ---------------------------------------------------------------- pricing (pure)
def unsupported(tariff: P) -> str | None:
    """Why fleetsim cannot price ``tariff`` (a conditional price), or None."""
    for key in (*_COMPONENTS, "reservationTime", "reservationFixed"):
        for item in (tariff.get(key) or {}).get("prices", ()):
            if item.get("conditions"):
                return f"{key} price with conditions"
    return None


def _first(tariff: P, key: str, field: str) -> float:
    prices = (tariff.get(key) or {}).get("prices") or ()
    return float(prices[0][field]) if prices else 0.0


def _tax(tariff: P, key: str) -> float:
    return sum(float(r["tax"]) for r in (tariff.get(key) or {}).get("taxRates") or ()) / 100.0


def price(periods: list[P], *, currency: str, tariff: P) -> P:
    """The TotalCostType of ``periods`` (each: tariff, energy_wh, charging_s, idle_s).

    ``tariff``: the last tariff, whose minCost/maxCost bound the total (exclTax)."""
    sums = {k: [0.0, 0.0] for k in _COMPONENTS}
    for i, p in enumerate(periods):
        t = p["tariff"]
        parts = {"energy": _first(t, "energy", "priceKwh") * p["energy_wh"] / 1000.0,
                 "chargingTime": _first(t, "chargingTime", "priceMinute") * p["charging_s"] / 60,
                 "idleTime": _first(t, "idleTime", "priceMinute") * p["idle_s"] / 60,
                 "fixedFee": _first(t, "fixedFee", "priceFixed") if i == 0 else 0.0}
        for k, excl in parts.items():
            sums[k][0] += excl
            sums[k][1] += excl * (1.0 + _tax(t, k))
    excl = sum(v[0] for v in sums.values())
    incl = sum(v[1] for v in sums.values())
    kind = "NormalCost"
    lo, hi = (tariff.get("minCost") or {}), (tariff.get("maxCost") or {})
    bound: P | None = None
    if "exclTax" in lo and excl < float(lo["exclTax"]):
        kind, bound = "MinCost", lo
    elif "exclTax" in hi and excl > float(hi["exclTax"]):
        kind, bound = "MaxCost", hi
    if bound is not None:
        ratio = incl / excl if excl else 1.0
        excl = float(bound["exclTax"])
        incl = float(bound.get("inclTax", excl * ratio))
    out: P = {"currency": currency, "typeOfCost": kind,
              "total": {"exclTax": round(excl, 4), "inclTax": round(incl, 4)}}
    names = {"fixedFee": "fixed"}
    for k, (e, inc) in sums.items():
        if e:
            out[names.get(k, k)] = {"exclTax": round(e, 4), "inclTax": round(inc, 4)}
    return out


# ---------------------------------------------------------------- station state
def _store(st: Station2) -> P:
    s: P = lc.extra(st).setdefault("tariffs", {"default": {}, "track": {}, "pay": {}})
    return s


def _track(st: Station2, c: Connector) -> P | None:
    if st.extra is None or "tariffs" not in st.extra:
        return None
    t: P | None = st.extra["tariffs"]["track"].get(c.connector_id)
    return t


def pay_of(st: Station2, c: Connector) -> P | None:
    """The ad hoc payment of ``c``'s session, if any."""
    if st.extra is None or "tariffs" not in st.extra:
        return None
    p: P | None = st.extra["tariffs"]["pay"].get(c.connector_id)
    return p


def default_tariff(st: Station2, evse_id: int) -> P | None:
    if st.extra is None or "tariffs" not in st.extra:
        return None
    d = st.extra["tariffs"]["default"]
    t: P | None = d.get(evse_id) or d.get(0)
    return t


def start_tracking(st: Station2, c: Connector, t: float) -> None:
    """A transaction opens: it takes the EVSE's default tariff, if there is one."""
    tariff = default_tariff(st, c.connector_id)
    if tariff is None:
        return
    _store(st)["track"][c.connector_id] = {
        "tariff": tariff, "periods": [], "charging_s": 0.0, "idle_s": 0.0,
        "last_s": st.clock.sim_s(t), "start_iso": st.clock.iso(t), "e0": c.delivered_wh,
        "c0": 0.0, "i0": 0.0}


def accrue(st: Station2, c: Connector, t: float) -> None:
    """Book the simulated time since the last call as charging or idle (before advancing)."""
    tr = _track(st, c)
    if tr is None or c.tx is None:
        return
    sim = st.clock.sim_s(t)
    dt, tr["last_s"] = sim - tr["last_s"], sim
    if dt > 0 and c.charging:
        tr["charging_s" if c.power_w != 0.0 and not c.full else "idle_s"] += dt


def _close_period(st: Station2, c: Connector, t: float) -> None:
    tr = _track(st, c)
    assert tr is not None
    tr["periods"].append({"tariff": tr["tariff"], "start_iso": tr["start_iso"],
                          "energy_wh": c.delivered_wh - tr["e0"],
                          "charging_s": tr["charging_s"] - tr["c0"],
                          "idle_s": tr["idle_s"] - tr["i0"]})
    tr.update(start_iso=st.clock.iso(t), e0=c.delivered_wh, c0=tr["charging_s"],
              i0=tr["idle_s"])


def cost_details(st: Station2, c: Connector, t: float) -> P | None:
    """The CostDetailsType of ``c``'s transaction so far (None: no tariff)."""
    tr = _track(st, c)
    if tr is None:
        return None
    _close_period(st, c, t)
    periods = tr["periods"]
    total = price(periods, currency=tr["tariff"]["currency"], tariff=tr["tariff"])
    tr["final"] = out = {
        "chargingPeriods": [{
            "tariffId": p["tariff"]["tariffId"], "startPeriod": p["start_iso"],
            "dimensions": [{"type": "Energy", "volume": round(p["energy_wh"], 1)},
                           {"type": "ChargingTime", "volume": round(p["charging_s"])},
                           {"type": "IdleTIme", "volume": round(p["idle_s"])}]}
            for p in periods],
        "totalCost": total,
        "totalUsage": {"energy": round(sum(p["energy_wh"] for p in periods), 1),
                       "chargingTime": round(tr["charging_s"]), "idleTime": round(tr["idle_s"])}}
    return out


def tariff_id(st: Station2, c: Connector) -> str | None:
    tr = _track(st, c)
    return None if tr is None else str(tr["tariff"]["tariffId"])


# ---------------------------------------------------------------- ad hoc payment flows
def choose_payment(st: Station2, c: Connector, t: float) -> str | None:
    """At plug-in: how this driver pays; may send VatNumberValidation (terminal payers)."""
    pays = _store(st)["pay"] if st.extra and "tariffs" in st.extra else None
    if pays is not None:
        pays.pop(c.connector_id, None)
    s = c.session
    if s is None or c.remote_start_id is not None:
        return None
    kind = payment_kind(st.spec.seed, st.station_id, s, st.cfg.adhoc_share)
    if kind == "terminal" and default_tariff(st, c.connector_id) is None:
        kind = None  # the terminal cannot show a price: the driver takes their card
    if kind is None:
        return None
    psp = hashlib.blake2b(f"{st.station_id}/{s.arrival_s:.3f}".encode(),
                          digest_size=8).hexdigest().upper()
    pay: P = {"kind": kind, "psp": f"PSP{psp}"}
    _store(st)["pay"][c.connector_id] = pay
    vat = _vat(st.spec.seed, st.station_id, s) if kind == "terminal" else None
    if vat is not None:
        pay["vat"] = vat
        st.call("VatNumberValidation", lambda: {"vatNumber": vat, "evseId": c.connector_id}, t,
                on_result=lambda r, now: _vat_answer(pay, r))
    return kind


def _vat_answer(pay: P, r: P) -> None:
    if r.get("status") == "Accepted":
        pay["company"] = r.get("company")
    else:
        pay.pop("vat", None)  # an invalid number: the receipt goes to a private person


def settle(st: Station2, c: Connector, tx_id: str, cost: P | None, t: float) -> None:
    """C18: the terminal captures the session's cost; NotifySettlement tells the CSMS."""
    pay = pay_of(st, c)
    if pay is None or pay["kind"] != "terminal":
        return
    amount = 0.0 if cost is None else float(cost["totalCost"]["total"].get("inclTax", 0.0))
    body: P = {"transactionId": tx_id, "pspRef": pay["psp"], "status": "Settled",
               "settlementAmount": round(amount, 2), "settlementTime": st.clock.iso(t)}
    if pay.get("vat"):
        body["vatNumber"] = pay["vat"]
        if pay.get("company"):
            body["vatCompany"] = pay["company"]
    st.call("NotifySettlement", lambda: body, t)


def id_token(st: Station2, c: Connector) -> dict[str, str] | None:
    """The DirectPayment idToken of an ad hoc session (None: a card session)."""
    pay = pay_of(st, c)
    if pay is None or (pay["kind"] == "qr" and not pay.get("paid")):
        return None
    return {"idToken": pay["psp"], "type": "DirectPayment"}


def awaiting_web_payment(st: Station2, c: Connector) -> bool:
    pay = pay_of(st, c)
    return pay is not None and pay["kind"] == "qr" and not pay.get("paid") and c.tx is not None


def web_payment_start(st: Station21, c: Connector, p: P, now: float) -> P | None:
    """RequestStartTransaction for an EVSE whose driver is paying on the web: authorise the
    waiting transaction with the token (F02); None if this is not such an EVSE."""
    if not awaiting_web_payment(st, c):
        return None
    pay = pay_of(st, c)
    assert pay is not None and c.tx is not None
    pay["paid"] = True
    pay["psp"] = str(p["idToken"]["idToken"])
    st.cancel_timer(f"webpay{c.connector_id}")
    pay["remote_start_id"] = p["remoteStartId"]
    st.start_paid(c, now)
    return {"status": "Accepted", "transactionId": str(c.tx.id)}


# ---------------------------------------------------------------- CSMS requests
def set_default_tariff(st: Station2, p: P, now: float) -> P:
    """I11: store the EVSE's (evseId 0: every EVSE's) default tariff."""
    evse_id, tariff = p["evseId"], p["tariff"]
    if evse_id > len(st.connectors):
        return {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEvse"}}
    why = unsupported(tariff)
    if why is not None:
        return {"status": "ConditionNotSupported",
                "statusInfo": {"reasonCode": "Unsupported", "additionalInfo": why}}
    store = _store(st)["default"]
    if any(t["tariffId"] == tariff["tariffId"] and e != evse_id for e, t in store.items()):
        return {"status": "DuplicateTariffId"}
    if evse_id not in store and len(store) >= MAX_TARIFFS:
        return {"status": "TooManyElements"}
    store[evse_id] = tariff
    return {"status": "Accepted"}


def get_tariffs(st: Station2, p: P, now: float) -> P:
    """I11: the default tariffs of the EVSE (0: all) and of its running transactions."""
    evse_id = p["evseId"]
    if evse_id > len(st.connectors):
        return {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownEvse"}}
    out: list[P] = []
    store = _store(st)
    for e, t in sorted(store["default"].items()):
        if evse_id in (0, e) or e == 0:
            a: P = {"tariffId": t["tariffId"], "tariffKind": "DefaultTariff"}
            if e:
                a["evseIds"] = [e]
            out.append(a)
    for cid, tr in sorted(store["track"].items()):
        c = st.connectors[cid - 1]
        if c.tx is not None and evse_id in (0, cid) and tr["tariff"] is not default_tariff(st, cid):
            out.append({"tariffId": tr["tariff"]["tariffId"], "tariffKind": "DriverTariff",
                        "evseIds": [cid]})
    return {"status": "Accepted", "tariffAssignments": out} if out else {"status": "NoTariff"}


def clear_tariffs(st: Station2, p: P, now: float) -> P:
    """I11: remove default tariffs by id and/or EVSE (running transactions keep theirs)."""
    ids, evse_id = p.get("tariffIds"), p.get("evseId")
    store = _store(st)["default"]
    hit = [e for e, t in store.items()
           if (ids is None or t["tariffId"] in ids) and (evse_id is None or e == evse_id)]
    gone = {store.pop(e)["tariffId"] for e in hit}
    if ids:
        return {"clearTariffsResult": [{"tariffId": i, "status": "Accepted" if i in gone
                                        else "NoTariff"} for i in ids]}
    return {"clearTariffsResult": [{"status": "Accepted" if hit else "NoTariff"}]}


def change_tx_tariff(st: Station2, p: P, now: float) -> P:
    """I13: the transaction runs under the new tariff from now on (a new charging period)."""
    c = next((x for x in st.connectors if x.tx is not None and str(x.tx.id) == p["transactionId"]),
             None)
    if c is None:
        return {"status": "TxNotFound"}
    tariff = p["tariff"]
    why = unsupported(tariff)
    if why is not None:
        return {"status": "ConditionNotSupported",
                "statusInfo": {"reasonCode": "Unsupported", "additionalInfo": why}}
    tr = _track(st, c)
    if tr is None:
        _store(st)["track"][c.connector_id] = tr = {
            "tariff": tariff, "periods": [], "charging_s": 0.0, "idle_s": 0.0,
            "last_s": st.clock.sim_s(now), "start_iso": st.clock.iso(now), "e0": c.delivered_wh,
            "c0": 0.0, "i0": 0.0}
        return {"status": "Accepted"}
    if tr["tariff"]["currency"] != tariff["currency"]:
        return {"status": "NoCurrencyChange"}
    st.advance(c, now)  # usage so far under the old tariff
    _close_period(st, c, now)
    tr["tariff"] = tariff
    return {"status": "Accepted"}


def web_payment_started(st: Station2, p: P, now: float) -> P:
    """C24: the driver is paying on the web for this EVSE: show it, wait ``timeout`` s."""
    evse_id = p["evseId"]
    c = st.connectors[evse_id - 1] if 1 <= evse_id <= len(st.connectors) else None
    if c is not None and awaiting_web_payment(st, c):
        pay = pay_of(st, c)
        assert pay is not None
        pay["web_started"] = pay.get("web_started", 0) + 1
        st.at(now + max(1, p["timeout"]), _web_timeout, st, c, name=f"webpay{evse_id}")
    return {}


def _web_timeout(t: float, st: Station2, c: Connector) -> None:
    if awaiting_web_payment(st, c):
        st.rec.fault("web_payment_timeout")  # back to showing the QR code


PAYMENT_HANDLERS: dict[str, Handler] = {
    "ChangeTransactionTariff": change_tx_tariff,
    "ClearTariffs": clear_tariffs,
    "GetTariffs": get_tariffs,
    "NotifyWebPaymentStarted": web_payment_started,
    "SetDefaultTariff": set_default_tariff,
}
