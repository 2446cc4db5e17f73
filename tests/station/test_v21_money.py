"""OCPP 2.1 tariffs and local cost, ad hoc payment, priority charging, dynamic schedules and
battery swap on one station core; the harness schema-checks every frame both ways."""

from __future__ import annotations

from typing import Any

from fleetsim.drivers import load_model
from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig, StationCore
from fleetsim.station.payments import payment_kind, price
from tests.station.harness import Exchange, default_answer, make, session

V21 = OcppVersion.V21
ENERGY_TARIFF = {"tariffId": "t-energy", "currency": "EUR",
                 "energy": {"prices": [{"priceKwh": 0.50}],
                            "taxRates": [{"type": "VAT", "tax": 20.0}]},
                 "fixedFee": {"prices": [{"priceFixed": 1.0}]}}


def station(cfg: StationConfig | None = None, **kw: Any) -> tuple[StationCore, Exchange]:
    cfg = cfg or StationConfig(meter_interval_s=600, heartbeat_interval_s=3600,
                               priority_share=0.0)
    st = make(V21, (session(600, 3 * 3600, kwh=40),), config=cfg, **kw)
    ex = Exchange(st)
    ex.open()
    return st, ex


def ended(ex: Exchange) -> dict[str, Any]:
    return [p for p in ex.of("TransactionEvent") if p["eventType"] == "Ended"][-1]


def test_price_is_energy_time_fixed_with_tax_and_bounds() -> None:
    t = {**ENERGY_TARIFF, "chargingTime": {"prices": [{"priceMinute": 0.1}]}}
    cost = price([{"tariff": t, "energy_wh": 10_000, "charging_s": 600, "idle_s": 0}],
                 currency="EUR", tariff=t)
    assert cost["total"] == {"exclTax": 7.0, "inclTax": 8.0}  # 5 + 1 (fixed) + 1 (10 min)
    capped = {**t, "maxCost": {"exclTax": 4.0}}
    assert price([{"tariff": capped, "energy_wh": 10_000, "charging_s": 600, "idle_s": 0}],
                 currency="EUR", tariff=capped)["typeOfCost"] == "MaxCost"


def test_the_tariff_sets_the_cost_reported_and_a_change_starts_a_new_period() -> None:
    st, ex = station()
    assert ex.csms("GetTariffs", {"evseId": 0})["status"] == "NoTariff"
    assert ex.csms("SetDefaultTariff", {"evseId": 0, "tariff": ENERGY_TARIFF})["status"] == \
        "Accepted"
    cond = {"tariffId": "c", "currency": "EUR", "energy": {"prices": [
        {"priceKwh": 1, "conditions": {"startTimeOfDay": "18:00"}}]}}
    assert ex.csms("SetDefaultTariff", {"evseId": 1, "tariff": cond})["status"] == \
        "ConditionNotSupported"
    ex.run_until(3600)
    tx = st.connectors[0].tx
    assert tx is not None
    assert ex.of("TransactionEvent")[0]["transactionInfo"]["tariffId"] == "t-energy"
    dear = {**ENERGY_TARIFF, "tariffId": "t-dear", "energy": {"prices": [{"priceKwh": 2.0}]}}
    assert ex.csms("ChangeTransactionTariff", {"transactionId": str(tx.id),
                                               "tariff": dear})["status"] == "Accepted"
    assert ex.csms("ChangeTransactionTariff", {"transactionId": str(tx.id), "tariff": {
        **dear, "currency": "USD"}})["status"] == "NoCurrencyChange"
    assert ex.csms("GetTariffs", {"evseId": 1})["tariffAssignments"][-1]["tariffId"] == "t-dear"
    ex.run_until(2 * 3600)
    st.stop(ex.now)
    ex.pump()
    cost = ended(ex)["costDetails"]
    p1, p2 = cost["chargingPeriods"]
    e1, e2 = (p["dimensions"][0]["volume"] for p in (p1, p2))
    assert p1["tariffId"] == "t-energy" and p2["tariffId"] == "t-dear" and e1 > 0 and e2 > 0
    expect = 1.0 + 0.5 * e1 / 1000 + 2.0 * e2 / 1000  # fixed fee once, each period its price
    assert abs(cost["totalCost"]["total"]["exclTax"] - expect) < 0.01
    assert cost["totalUsage"]["energy"] == round(e1 + e2, 1)
    assert ex.csms("ClearTariffs", {"tariffIds": ["t-energy", "nope"]})["clearTariffsResult"] == [
        {"tariffId": "t-energy", "status": "Accepted"}, {"tariffId": "nope", "status": "NoTariff"}]


def _adhoc_station(kind: str) -> tuple[StationCore, Exchange]:
    """A station whose one session pays ``kind`` (found by scanning arrival times)."""
    for arrival in range(600, 60_000, 60):
        s = session(arrival, arrival + 3 * 3600, kwh=20)
        if payment_kind(1, "T000001", s, 1.0) == kind:
            break
    cfg = StationConfig(meter_interval_s=600, heartbeat_interval_s=3600, adhoc_share=1.0,
                        priority_share=0.0)
    st = make(V21, (s,), config=cfg)
    answer = default_answer(V21)

    def csms(action: str, p: dict[str, Any]) -> Any:
        if action == "VatNumberValidation":
            return {"vatNumber": p["vatNumber"], "status": "Accepted", "company": {
                "name": "ACME", "address1": "1 Way", "city": "Utrecht", "country": "NL"}}
        return answer(action, p)
    ex = Exchange(st, csms)
    ex.open()
    ex.csms("SetDefaultTariff", {"evseId": 0, "tariff": ENERGY_TARIFF})
    ex.run_until(arrival + 60)
    return st, ex


def test_a_terminal_payment_runs_under_direct_payment_and_settles_its_cost() -> None:
    _st, ex = _adhoc_station("terminal")
    assert not ex.of("Authorize")
    token = ex.of("TransactionEvent")[1]["idToken"]
    assert token["type"] == "DirectPayment"
    ex.run_until(5 * 3600)
    (settle,) = ex.of("NotifySettlement")
    cost = ended(ex)["costDetails"]["totalCost"]["total"]["inclTax"]
    assert settle["pspRef"] == token["idToken"] and settle["status"] == "Settled"
    assert settle["settlementAmount"] == round(cost, 2) > 1.2


def test_a_qr_payer_waits_for_the_web_payment_then_charges() -> None:
    st, ex = _adhoc_station("qr")
    c = st.connectors[0]
    assert c.tx is not None and not c.charging and not ex.of("Authorize")
    assert ex.csms("NotifyWebPaymentStarted", {"evseId": 1, "timeout": 60}) == {}
    r = ex.csms("RequestStartTransaction", {"evseId": 1, "remoteStartId": 5, "idToken": {
        "idToken": "WEB1", "type": "DirectPayment"}})
    assert r == {"status": "Accepted", "transactionId": str(c.tx.id)}
    upd = ex.of("TransactionEvent")[-1]
    assert upd["idToken"] == {"idToken": "WEB1", "type": "DirectPayment"}
    assert upd["transactionInfo"]["remoteStartId"] == 5 and c.charging


def _profile(pid: int, purpose: str, kind: str, watts: float, **extra: Any) -> dict[str, Any]:
    return {"evseId": 0, "chargingProfile": {
        "id": pid, "stackLevel": 1, "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind, **extra, "chargingSchedule": [{
            "id": 1, "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": watts}]}]}}


def test_priority_charging_lifts_the_limit_and_a_driver_request_is_notified() -> None:
    st, ex = station()
    ex.csms("SetChargingProfile", _profile(1, "TxDefaultProfile", "Absolute", 3000))
    ex.run_until(1200)
    c = st.connectors[0]
    assert c.tx is not None and c.power_w == 3000
    tx = str(c.tx.id)
    assert ex.csms("UsePriorityCharging", {"transactionId": tx, "activate": True})["status"] \
        == "NoProfile"
    assert ex.csms("SetChargingProfile", _profile(2, "PriorityCharging", "Absolute",
                                                  7000))["status"] == "Accepted"
    assert c.power_w == 3000  # stored, not applied
    assert ex.csms("UsePriorityCharging", {"transactionId": tx, "activate": True})["status"] \
        == "Accepted"
    assert c.power_w == 7000
    ex.csms("UsePriorityCharging", {"transactionId": tx, "activate": False})
    assert c.power_w == 3000
    # a driver who asks at the station: the CSMS is told
    cfg = StationConfig(meter_interval_s=600, heartbeat_interval_s=3600, priority_share=1.0)
    st2, ex2 = station(cfg)
    ex2.csms("SetChargingProfile", _profile(2, "PriorityCharging", "Absolute", 7000))
    ex2.csms("SetChargingProfile", _profile(1, "TxDefaultProfile", "Absolute", 3000))
    ex2.run_until(1200)
    (note,) = ex2.of("NotifyPriorityCharging")
    assert note["activated"] is True and st2.connectors[0].power_w == 7000


def test_a_dynamic_schedule_follows_pushed_and_pulled_updates() -> None:
    st, ex = station()
    pulled = iter([{"status": "Accepted", "scheduleUpdate": {"limit": 5000}}])
    base = default_answer(V21)
    ex.answer = lambda a, p: next(pulled) if a == "PullDynamicScheduleUpdate" else base(a, p)
    r = ex.csms("SetChargingProfile", _profile(9, "TxDefaultProfile", "Dynamic", 2000,
                                               dynUpdateInterval=600))
    assert r["status"] == "Accepted"
    ex.run_until(700)
    c = st.connectors[0]
    assert ex.of("PullDynamicScheduleUpdate") == [{"chargingProfileId": 9}]
    st.advance(c, ex.now)
    assert c.power_w == 5000  # the pulled update applied
    assert ex.csms("UpdateDynamicSchedule", {"chargingProfileId": 9, "scheduleUpdate": {
        "limit": 4000}})["status"] == "Accepted"
    assert c.power_w == 4000
    assert ex.csms("UpdateDynamicSchedule", {"chargingProfileId": 7, "scheduleUpdate": {
        "limit": 1}})["status"] == "Rejected"


def test_a_swap_station_swaps_packs_and_answers_request_battery_swap() -> None:
    sp = load_model("battery_swap").params.swap
    assert sp is not None
    cfg = StationConfig(meter_interval_s=600, heartbeat_interval_s=3600, swap={"test": sp})
    _st, ex = station(cfg)
    ex.run_until(1200)
    swaps = ex.of("BatterySwap")
    assert [s["eventType"] for s in swaps] == ["BatteryIn", "BatteryOut"]
    assert swaps[0]["batteryData"][0]["soC"] == 30.0 and swaps[1]["batteryData"][0]["soC"] == 100
    assert not ex.of("TransactionEvent")
    ex.run_until(4 * 3600)  # the car has left
    r = ex.csms("RequestBatterySwap", {"requestId": 77, "idToken": {"idToken": "APP1",
                                                                   "type": "Central"}})
    assert r["status"] == "Accepted"
    ex.run_until(ex.now + 600)
    assert [s["requestId"] for s in ex.of("BatterySwap")[2:]] == [77, 77]
