"""The embedded CSMS talks back: CSMS-initiated messages at configured times and rates.

A run writes a JSON *commands file* (the scenario's ``csms_commands``, the
simulated clock, a seed and the fleet's tokens) once its clock has started;
``fleetsim csms --commands FILE`` waits for the file, then every tick sends the
commands that fell due to the connected stations they select, through each
station session's ``call()`` (the ``ocpp`` library validates request and
response against the schemas). Outcomes — the response's ``status``, ``ok``,
``CALLERROR:<code>``, ``timeout``, ``invalid_response`` — are counted in the
ledger's ``commands`` table.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from websockets.exceptions import ConnectionClosed

from fleetsim.csms.command_payloads import DYNAMIC_PROFILE_ID, CommandContext, build
from fleetsim.scenario.commands import CommandSpec

if TYPE_CHECKING:
    from fleetsim.csms.server import CsmsServer
    from fleetsim.csms.session import StationSession

__all__ = ["CommandRunner", "SimClock", "write_commands_file"]

_LOGGER = logging.getLogger("fleetsim.csms.commands")
_TICK_S = 0.1
_IN_FLIGHT = 256  # CSMS-initiated CALLs outstanding at once (one per station at most)


@dataclass(frozen=True, slots=True)
class SimClock:
    """The run's simulated clock seen from the CSMS: sim = epoch + (unix − origin) × factor."""

    epoch_unix: float
    factor: float
    origin_unix: float

    def sim_s(self, unix: float) -> float:
        """Simulated seconds since the epoch."""
        return (unix - self.origin_unix) * self.factor

    def iso(self, unix: float) -> str:
        t = self.epoch_unix + self.sim_s(unix)
        whole = int(t)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + \
            f".{int((t - whole) * 1000):03d}Z"


def write_commands_file(path: str | Path, specs: tuple[CommandSpec, ...] | list[CommandSpec], *,
                        epoch_unix: float, factor: float, origin_unix: float, seed: int,
                        tokens: list[str] | tuple[str, ...] = (),
                        until_unix: float | None = None) -> None:
    """Write the commands file atomically (the CSMS polls for it). ``until_unix``: the
    run's stop begins then, and no command is sent from then on."""
    path = Path(path)
    doc = {"clock": {"epoch_unix": epoch_unix, "factor": factor, "origin_unix": origin_unix,
                     "until_unix": until_unix},
           "seed": seed, "tokens": list(tokens), "commands": [c.to_wire() for c in specs]}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps(doc))
    os.replace(tmp, path)


class _Due:
    """When one command fires next (simulated seconds since the epoch)."""

    def __init__(self, spec: CommandSpec, clock: SimClock, start_s: float) -> None:
        self.spec, self.last_s = spec, start_s
        if spec.once_at_s is not None:
            self.next_s = spec.once_at_s
        elif spec.daily_at_s is not None:
            day0 = math.floor((clock.epoch_unix + start_s) / 86_400) * 86_400 - clock.epoch_unix
            self.next_s = day0 + spec.daily_at_s
            if self.next_s < start_s:
                self.next_s += 86_400
        elif spec.every_s is not None:
            self.next_s = start_s + spec.every_s
        else:
            self.next_s = math.inf  # rate: every tick

    def advance(self) -> None:
        s = self.spec
        if s.daily_at_s is not None:
            self.next_s += 86_400
        elif s.every_s is not None:
            self.next_s += s.every_s
        else:
            self.next_s = math.inf


class CommandRunner:
    """Reads a commands file and sends its commands until cancelled."""

    def __init__(self, server: CsmsServer, path: str | Path) -> None:
        self.server, self.path = server, Path(path)
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self._sem = asyncio.Semaphore(_IN_FLIGHT)
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self.rng = random.Random(0)
        self.tokens: list[str] = []

    async def run(self) -> None:
        while not self.path.exists():
            await asyncio.sleep(_TICK_S)
        doc = orjson.loads(self.path.read_bytes())
        c = doc.get("clock")
        now = time.time()
        clock = (SimClock(float(c["epoch_unix"]), float(c["factor"]), float(c["origin_unix"]))
                 if c else SimClock(now, 1.0, now))
        self.rng = random.Random(int(doc.get("seed", 0)))
        self.tokens = sorted(doc.get("tokens") or self.server.config.tokens)
        specs = [CommandSpec.from_wire(x) for x in doc.get("commands", [])]
        start_s = clock.sim_s(now)
        dues = [_Due(s, clock, start_s) for s in specs]
        # the run's end: its stations stop and close (paced), no station is commanded then
        until = float((c or {}).get("until_unix") or math.inf)
        _LOGGER.info("sending %d kinds of commands to stations", len(specs))
        while True:
            await asyncio.sleep(_TICK_S)
            now = time.time()
            if now >= until:
                _LOGGER.info("the run's stop began: no more commands")
                return
            sim = clock.sim_s(now)
            for d in dues:
                if d.spec.rate_per_h is not None:
                    p = 1.0 - math.exp(-d.spec.rate_per_h * max(0.0, sim - d.last_s) / 3600.0)
                    d.last_s = sim
                    self._fire(d.spec, clock, now, p)
                elif sim >= d.next_s:
                    d.advance()
                    self._fire(d.spec, clock, now, d.spec.share)

    async def aclose(self) -> None:
        for t in list(self._tasks):
            t.cancel()

    def _eligible(self, spec: CommandSpec) -> list[StationSession]:
        sessions = list(self.server.sessions().values())
        if spec.versions:
            sessions = [s for s in sessions if s.version.label in spec.versions]
        busy = self.server.backend.busy_stations()
        if spec.action == "RemoteStart":
            sessions = [s for s in sessions if s.station_id not in busy]
        elif spec.action in ("RemoteStop", "ChangeTransactionTariff", "UsePriorityCharging"):
            sessions = [s for s in sessions if s.station_id in busy]
        elif spec.action == "RequestBatterySwap":
            sessions = [s for s in sessions if s.station_id not in busy]
        elif spec.action == "NotifyWebPaymentStarted":
            backend = self.server.backend
            sessions = [s for s in sessions if backend.unpaid_evses(s.station_id)]
        return sessions

    def _fire(self, spec: CommandSpec, clock: SimClock, now: float, share: float) -> None:
        eligible = self._eligible(spec)
        if spec.rate_per_h is not None:
            chosen = [s for s in eligible if self.rng.random() < share]
        else:
            chosen = self.rng.sample(eligible, round(share * len(eligible)))
        for session in chosen:
            tx = self.server.backend.open_transaction_ids(session.station_id)
            ctx = CommandContext(now_iso=clock.iso(now), id_tag=self._token(),
                                 remote_start_id=next(self._ids),
                                 transaction_id=tx[0] if tx else None)
            built = build(spec.action, spec.params, v16=not session.version.is_v2, ctx=ctx,
                          v21=session.version.label == "2.1")
            if built is None:
                continue
            if built[0] == "UpdateDynamicSchedule" or (
                    built[0] == "SetChargingProfile"
                    and (built[1].get("chargingProfile") or {}).get("chargingProfileKind")
                    == "Dynamic"):
                # what PullDynamicScheduleUpdate answers from now on (handlers_v21)
                self.server.backend.dynamic_limits[(session.station_id, DYNAMIC_PROFILE_ID)] = \
                    float(spec.params["limit"])
            if built[0] == "NotifyWebPaymentStarted":
                coro = self._web_payment(session, spec, ctx)
            else:
                coro = self._send(session, *built)
            task = asyncio.get_running_loop().create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _token(self) -> str:
        if self.tokens:
            return self.rng.choice(self.tokens)
        token = f"{self.server.config.token_prefix or ''}R{self.rng.randrange(16**7):07X}"
        self.server.backend.issued_tokens.add(token)  # the driver's app account: valid here
        return token

    async def _web_payment(self, session: StationSession, spec: CommandSpec,
                           ctx: CommandContext) -> None:
        """2.1 C24: a driver scanned the QR code of each unpaid EVSE and paid on this CSMS's
        web page: NotifyWebPaymentStarted, then RequestStartTransaction with a DirectPayment
        token for that EVSE."""
        for evse_id in self.server.backend.unpaid_evses(session.station_id):
            params = {**spec.params, "evse": evse_id}
            built = build("NotifyWebPaymentStarted", params, v16=False, ctx=ctx, v21=True)
            assert built is not None
            await self._send(session, *built)
            psp = f"WEB{session.station_id}{evse_id}{ctx.remote_start_id:06d}"[-36:]
            await self._send(session, "RequestStartTransaction", {
                "evseId": evse_id, "remoteStartId": ctx.remote_start_id,
                "idToken": {"idToken": psp, "type": "DirectPayment"}})

    async def _send(self, session: StationSession, action: str, payload: dict[str, Any]) -> None:
        from fleetsim.csms.schemas import response_problem
        from fleetsim.csms.session import _camel_case, _plain, _snake_case

        async with self._sem:
            request = type(session)._call
            try:
                # requests are built here from the spec; the station's answer is checked
                # below with the fast validators (the library's jsonschema path is slow)
                result = await session.call(getattr(request, action)(**_snake_case(payload)),
                                            suppress=False, skip_schema_validation=True)
                answer = _camel_case(_plain(result))
                if response_problem(session.version, action, answer) is not None:
                    outcome = "invalid_response"
                else:
                    status = answer.get("status")
                    outcome = str(status) if status is not None else "ok"
            except TimeoutError:
                outcome = "timeout"
            except asyncio.CancelledError:
                raise
            except ConnectionClosed:  # the station left before answering: no CALLERROR
                outcome = "closed"
            except Exception as exc:
                code = getattr(exc, "code", None)
                outcome = f"CALLERROR:{code}" if code else f"failed:{type(exc).__name__}"
        self.outcomes[(action, outcome)] += 1
        self.server.ledger.count_command(session.station_id, action, outcome)
