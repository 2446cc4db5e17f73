"""fleetsim's state in one Locust process: master, worker, or a local (single) run.

:func:`install` hooks it into Locust's events from the locustfile. The master
(or local runner) loads the scenario, decides the :class:`RunContext` when a
test starts (origin time, CSMS URLs — starting the embedded CSMS if the
scenario targets it —, plan horizon, run folder), hands out station indices
and, at the end, merges the workers' folders into one results folder. A worker
(or local runner) owns one :class:`EngineBridge` and starts/stops stations for
its users; a worker that does not share the master's disk sends its engine's
final folder over Locust's messages (:mod:`fleetsim.locust_adapter.transfer`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import gevent
import orjson
from locust.env import Environment
from locust.exception import RPCError
from locust.runners import LocalRunner, MasterRunner, Runner, WorkerRunner

from fleetsim.exceptions import FleetsimError
from fleetsim.lifeline import die_with_parent
from fleetsim.locust_adapter.bridge import EngineBridge
from fleetsim.locust_adapter.health import WorkerLiveness
from fleetsim.locust_adapter.indices import CLAIM, FATAL, GRANT, RELEASE, IndexClaims, IndexPool
from fleetsim.locust_adapter.options import add_options, compute_locust_defaults_once
from fleetsim.locust_adapter.transfer import (
    FILES,
    FILES_ACK,
    FolderReceiver,
    folder_messages,
    new_run_id,
    shares_disk,
)
from fleetsim.locust_adapter.wire import RunContext, child_stop_wait_s, worker_tag
from fleetsim.scenario import OcppVersion, Scenario, load_scenario, parse_scenario, with_overrides

__all__ = ["FleetNode", "install", "node_for"]

log = logging.getLogger(__name__)
_NODES: WeakKeyDictionary[Environment, FleetNode] = WeakKeyDictionary()
WORKER_FILES_WAIT_S = 30.0  # the master waits this long for workers' final files, + the spread
FILES_ACK_WAIT_S = 20.0  # a worker waits this long for the master to take its folder


def install(events: Any) -> None:
    """Register fleetsim's options and its per-process node on Locust's ``events``."""
    compute_locust_defaults_once()
    events.init_command_line_parser.add_listener(add_options)
    events.init.add_listener(_on_init)


def node_for(environment: Environment) -> FleetNode:
    node = _NODES.get(environment)
    if node is None:
        raise FleetsimError("fleetsim's Locust plugin is not installed: the locustfile must "
                            "call fleetsim.locust_adapter.install(events)")
    return node


def _on_init(environment: Environment, runner: Runner, web_ui: Any = None, **_: Any) -> None:
    try:
        _NODES[environment] = FleetNode(environment, runner, web_ui)
    except FleetsimError as exc:
        log.error("fleetsim: %s", exc)
        raise SystemExit(2) from None


class FleetNode:
    """One Locust process's part of the fleet."""

    def __init__(self, environment: Environment, runner: Runner, web_ui: Any) -> None:
        self.env, self.runner = environment, runner
        self.options = environment.parsed_options
        self.is_worker = isinstance(runner, WorkerRunner)
        self.is_master = isinstance(runner, MasterRunner)
        self.is_local = isinstance(runner, LocalRunner)
        self.bridge: EngineBridge | None = None
        self.ctx: RunContext | None = None
        self.scenario: Scenario | None = None
        self.pool = IndexPool()
        self.generation = 0
        self.worker_tags: set[str] = set()
        self.csms: Any = None
        self.restarts: Any = None  # run/csms_restart.CsmsRestarts when the master owns the CSMS
        self.fatal: str | None = None
        self.started_at = ""
        self.claims: IndexClaims | None = None
        self.receiver: FolderReceiver | None = None  # master: folders sent by workers
        self.box: Any = None  # run/overload.BoxCpu: master or local run, from test start
        # worker: where its engine writes, and whether the master can read it there
        self.worker_dir = getattr(self.options, "fleetsim_worker_dir", None)
        self.local_out: str | None = None
        self.sends_folder = False
        self._ack: dict[str, Any] | None = None
        ev: Any = environment.events  # locust's EventHook is untyped
        from fleetsim.locust_adapter.webui import FleetView

        self.view = FleetView(environment, is_worker=self.is_worker, is_master=self.is_master)
        if web_ui is not None and not self.is_worker:
            self.view.attach(web_ui)
        if self.is_worker:
            if getattr(self.options, "processes", None):  # forked by a local master
                die_with_parent()  # Locust's own master-heartbeat timeout is 60 s
            self.claims = IndexClaims(runner.send_message, tag="")
            runner.register_message(GRANT, self._on_grant)
            runner.register_message(FILES_ACK, self._on_files_ack)
        else:
            self.scenario = self._load_scenario()
            self._apply_defaults(web_ui)
            ev.test_start.add_listener(self._on_test_start)
            ev.quit.add_listener(self._on_quit)
        if self.is_master:
            self.liveness = WorkerLiveness(runner)
            runner.register_message(CLAIM, self._on_claim)
            runner.register_message(RELEASE, self._on_release)
            runner.register_message(FILES, self._on_files)
            runner.register_message(FATAL, lambda environment, msg, **_: self._fatal(
                str(msg.data.get("message"))))
        if not self.is_master:
            ev.quitting.add_listener(self._on_quitting)
            ev.test_start.add_listener(self._on_engine_test_start)

    # ------------------------------------------------------------------ master / local
    def _load_scenario(self) -> Scenario:
        opts = self.options
        path = getattr(opts, "fleetsim_scenario", None)
        if not path:
            raise FleetsimError("--fleetsim-scenario FILE is required on the master "
                                "(or a local run)")
        from fleetsim.security.secrets import masked_keys, restore_secrets, take_secrets_env

        secrets = take_secrets_env()  # from `fleetsim run`: the real values, never on disk
        s = load_scenario(path, prepare=lambda raw: restore_secrets(raw, secrets))
        masked = masked_keys(s.raw)
        if masked:  # a results folder's scenario.yaml: the stations would send "***"
            raise FleetsimError(f"{path}: {', '.join(masked)} is masked (***), as in a results "
                                "folder; run the original scenario file")
        return with_overrides(s, seed=getattr(opts, "fleetsim_seed", None),
                              csms_url=getattr(opts, "fleetsim_csms", None))

    def _apply_defaults(self, web_ui: Any) -> None:
        s, opts = self.scenario, self.options
        assert s is not None and opts is not None
        if opts.num_users is None:
            opts.num_users = s.stations.count
        if opts.spawn_rate is None:
            opts.spawn_rate = s.stations.connect_rate_per_s
        if s.load is not None:
            from fleetsim.locust_adapter.shapes import ScenarioShape

            shape = ScenarioShape(s.load)
            shape.runner = self.runner
            self.env.shape_class = shape
            self.env.available_shape_classes = {
                **(self.env.available_shape_classes or {}), "ScenarioShape": shape}
            if web_ui is not None:
                web_ui.update_template_args()
        elif opts.headless and not opts.run_time:
            opts.run_time = max(1, round(s.duration_s))

    def _on_test_start(self, environment: Environment, **_: Any) -> None:
        s = self.scenario
        assert s is not None
        self.generation += 1
        self.pool = IndexPool()
        self.fatal = None
        if self.ctx is not None:  # a new test in the same process: same clock, new indices
            self.ctx = dataclasses.replace(self.ctx, generation=self.generation)
            return
        opts = self.options
        from fleetsim.run.results import run_dir

        out_path = run_dir(getattr(opts, "fleetsim_out", None), "results", s.name)
        run_s = max(s.duration_s, float(getattr(opts, "run_time", 0) or 0))
        urls = {v.value: u for v, u in s.csms.urls.items()}
        if s.csms.embedded:
            url = self._start_embedded_csms(s, out_path, run_s)  # one CSMS, every version
            urls = {v.value: url for v in OcppVersion}
        from fleetsim.station.clock import iso_ms

        self.started_at = iso_ms(time.time())
        self.receiver = FolderReceiver(out_path)
        from fleetsim.run.overload import BoxCpu

        self.box = box = BoxCpu(time.time())
        gevent.spawn(_sample_each_second, box)
        self.ctx = RunContext(scenario=orjson.loads(orjson.dumps(dict(s.raw), default=str)),
                              scenario_file=s.file, urls=urls, origin_unix=time.time(),
                              horizon_s=run_s * s.clock.time_factor,
                              out_dir=str(out_path.resolve()), generation=self.generation,
                              extra={"run_id": new_run_id(out_path),
                                     # the engines share the connect rate for the stop
                                     "engines": max(1, int(getattr(self.runner,
                                                                   "worker_count", 1)))})
        from fleetsim.csms.embedding import start_commands
        from fleetsim.run.csms_restart import CsmsRestarts, write_origin

        start_commands(s, out_path, origin_unix=self.ctx.origin_unix,  # csms_commands' clock
                       run_s=run_s)
        write_origin(out_path, self.ctx.origin_unix)  # for an owner of the CSMS elsewhere
        if self.csms is not None and s.faults.csms_restarts:
            origin = self.ctx.origin_unix


            epoch = s.clock.epoch.timestamp()
            self.restarts = CsmsRestarts(self.csms, s.faults.csms_restarts,
                                         origin=lambda: origin, horizon_s=run_s,
                                         day_s_at_origin=epoch % 86400.0,
                                         factor=s.clock.time_factor).start()
        log.info("fleetsim: %s, run folder %s", s.name, out_path)

    def _start_embedded_csms(self, s: Scenario, out: Path, run_s: float) -> str:
        from fleetsim.csms.process import EmbeddedCsms
        from fleetsim.run.standalone import run_tags

        n = max(s.stations.count, int(getattr(self.options, "num_users", 0) or 0))
        tokens = run_tags(s, stations=n, wall_s=run_s)
        from fleetsim.csms.embedding import embedded_options

        self.csms = EmbeddedCsms(db=str(out / "csms.sqlite"),
                                 heartbeat_interval_s=max(1, round(s.csms.heartbeat_interval_s)),
                                 token_prefix=s.csms.token_prefix or None, tokens=tokens,
                                 log_file=str(out / "csms.log"),
                                 **embedded_options(s, out)).start()
        return str(self.csms.url)

    def _grant(self, req: int, need_ctx: bool) -> dict[str, Any]:
        if self.ctx is None:  # a claim before test_start: cannot happen, but never hang
            self._on_test_start(self.env)
        assert self.ctx is not None
        data: dict[str, Any] = {"req": req, "index": self.pool.claim(), "gen": self.generation}
        if need_ctx:
            data["ctx"] = self.ctx.to_wire()
        return data

    def _on_claim(self, environment: Environment, msg: Any, **_: Any) -> None:
        self.worker_tags.add(str(msg.data.get("tag")))
        data = self._grant(int(msg.data["req"]), bool(msg.data.get("ctx")))
        self.runner.send_message(GRANT, data, client_id=msg.node_id)

    def _on_release(self, environment: Environment, msg: Any, **_: Any) -> None:
        if int(msg.data.get("gen", -1)) == self.generation:
            for i in msg.data["indices"]:
                self.pool.release(int(i))

    def _fatal(self, message: str) -> None:
        if self.fatal is not None:
            return
        self.fatal = message
        log.error("fleetsim: stopping the test: %s", message)
        self.env.process_exit_code = 4
        opts = self.options
        gevent.spawn(self.runner.quit if opts is not None and opts.headless else self.runner.stop)

    def _on_quit(self, exit_code: int = 0, **_: Any) -> None:
        """After Locust told every worker to quit: collect, stop the CSMS, merge."""
        ctx = self.ctx
        restarts = []
        try:
            if ctx is not None and ctx.out_dir and self.is_master:
                self._wait_for_workers(Path(ctx.out_dir))
                self.liveness.write(Path(ctx.out_dir), origin_unix=ctx.origin_unix)
            if ctx is not None and ctx.out_dir and self.box is not None:
                self.box.write(Path(ctx.out_dir), role="master" if self.is_master else "local")
        finally:
            if self.restarts is not None:
                self.restarts.stop()
                restarts = self.restarts.events
            if self.csms is not None:
                self.csms.close()
        if ctx is None or not ctx.out_dir or getattr(self.options, "fleetsim_no_merge", False):
            return
        from fleetsim.run.merge import merge_run

        assert self.scenario is not None
        try:
            outcome = merge_run(Path(ctx.out_dir), self.scenario, started_at=self.started_at,
                                failure=self.fatal, csms_restarts=restarts)
        except FleetsimError as exc:
            log.error("fleetsim: could not merge the run folder: %s", exc)
            return
        print(f"fleetsim results: {outcome.path} (fleetsim report {outcome.path} for plots)")

    def _on_files(self, environment: Environment, msg: Any, **_: Any) -> None:
        if self.receiver is None:
            return
        ack = self.receiver.accept(msg.data)
        if ack is None:
            return
        if not ack["ok"]:
            log.error("fleetsim: the final folder of %s arrived damaged: %s", ack["tag"],
                      ack["error"])
        with contextlib.suppress(RPCError):
            self.runner.send_message(FILES_ACK, ack, client_id=msg.node_id)

    def _wait_for_workers(self, out: Path) -> None:
        """Until every worker's final figures are here: on this disk, or sent over Locust."""
        def missing() -> set[str]:
            return {t for t in self.worker_tags
                    if not (out / "workers" / t / "worker.json").exists()}

        def dispatch(msg: Any) -> None:
            if msg.type == FILES:
                self._on_files(self.env, msg)

        wait = WORKER_FILES_WAIT_S  # and the longest engine's stop spread
        if (st := self.scenario) is not None:
            engines = max(1, len(self.worker_tags))
            wait += st.stations.end_spread_s(-(-st.stations.count // engines), engines)
        _pump(self.runner, lambda: not missing(),
              lambda: _server(self.runner).recv_from_client()[1], dispatch, wait)
        if lost := missing():
            errors = self.receiver.errors if self.receiver is not None else {}
            log.warning("fleetsim: no final figures from %s within %.0f s%s",
                        ", ".join(sorted(lost)), wait,
                        "".join(f"; {t}: {errors[t]}" for t in sorted(lost) if t in errors))

    # ------------------------------------------------------------------ worker / local
    def claim(self) -> int:
        """A global station index for a starting user (blocks until granted)."""
        if self.claims is not None:
            if not self.claims.tag:
                self.claims.tag = self._tag()
            return self.claims.claim()
        return int(self._grant(0, False)["index"])

    def start_station(self, index: int) -> None:
        ctx = self._context()
        if self.bridge is None:
            s = self.scenario or parse_scenario(dict(ctx.scenario), file=ctx.scenario_file)
            self.bridge = EngineBridge(self.env, tag=self._tag(), on_fatal=self._report_fatal,
                                       call_timeout_ms=s.csms.call_timeout_s * 1000,
                                       stations=s.stations,
                                       engines=int(ctx.extra.get("engines", 1)))
            if self.is_worker and ctx.out_dir:
                self.local_out, self.sends_folder = self._local_out(ctx)
                self.bridge.out_dir = self.local_out
            bridge = self.bridge
            if self.is_worker:  # the engine's figures ride on Locust's worker reports
                self.view.bridge_live = lambda: bridge.live
            else:
                bridge.on_live = self.view.board.update
        self.bridge.ensure(ctx)
        self.bridge.start(index)

    def stop_station(self, index: int) -> None:
        if self.bridge is not None:
            self.bridge.stop(index)
        if self.claims is not None:
            self.claims.release([index])
        else:
            self.pool.release(index)

    def _local_out(self, ctx: RunContext) -> tuple[str, bool]:
        """This worker's run folder, and whether it must send its engine's folder."""
        assert ctx.out_dir is not None
        name = Path(ctx.out_dir).name
        if self.worker_dir:
            return str((Path(self.worker_dir) / name).resolve()), True
        if shares_disk(ctx.out_dir, ctx.extra.get("run_id")):
            return ctx.out_dir, False
        for candidate in (Path(ctx.out_dir), Path("results") / name):
            try:
                candidate.mkdir(parents=True, exist_ok=True)
            except OSError:
                continue
            return str(candidate.resolve()), True
        raise FleetsimError(f"no writable run folder on this host (tried {ctx.out_dir} and "
                            f"results/{name}): give --fleetsim-worker-dir DIR")

    def _send_folder(self) -> None:
        """Send the engine's final folder to the master and wait for its acknowledgement."""
        assert self.local_out is not None
        tag = self._tag()
        folder = Path(self.local_out) / "workers" / tag
        if not folder.is_dir():
            return
        self._ack = None
        sent = 0
        try:
            for msg in folder_messages(folder, tag):
                self.runner.send_message(FILES, msg)
                sent += len(msg.get("data", b""))
                gevent.sleep(0)  # heartbeats and the ack keep flowing
        except (OSError, RPCError) as exc:
            log.error("fleetsim: could not send %s to the master (%s); copy it into the "
                      "master's run folder and run python -m fleetsim.run.merge", folder, exc)
            return

        def dispatch(msg: Any) -> None:
            if msg.type == FILES_ACK:
                self._on_files_ack(self.env, msg)

        _pump(self.runner, lambda: self._ack is not None, _client(self.runner).recv, dispatch,
              FILES_ACK_WAIT_S)
        ack = self._ack
        if ack is not None and ack.get("ok"):
            log.info("fleetsim: %s's final folder (%d bytes) reached the master", tag, sent)
        else:
            why = ack.get("error") if ack is not None else f"no answer in {FILES_ACK_WAIT_S:.0f} s"
            log.error("fleetsim: the master did not take %s (%s); copy it into the master's "
                      "run folder and run python -m fleetsim.run.merge", folder, why)

    def _on_files_ack(self, environment: Environment, msg: Any, **_: Any) -> None:
        if isinstance(msg.data, dict) and msg.data.get("tag") == self._tag():
            self._ack = msg.data

    def _on_grant(self, environment: Environment, msg: Any, **_: Any) -> None:
        assert self.claims is not None
        self.claims.granted(msg.data)

    def _context(self) -> RunContext:
        if self.claims is not None:
            if self.claims.ctx is None:
                raise FleetsimError("no run context from the master yet")
            return RunContext.from_wire(self.claims.ctx)
        assert self.ctx is not None
        return self.ctx

    def _tag(self) -> str:
        return worker_tag(max(0, int(getattr(self.runner, "worker_index", 0))), os.getpid())

    def _report_fatal(self, message: str) -> None:
        if self.is_worker:
            with contextlib.suppress(Exception):
                self.runner.send_message(FATAL, {"message": message})
        else:
            self._fatal(message)

    def _on_engine_test_start(self, environment: Environment, **_: Any) -> None:
        if self.bridge is not None:
            self.bridge.fatal = None  # a new test may start a new engine child

    def _on_quitting(self, environment: Environment, **_: Any) -> None:
        if self.bridge is not None:  # graceful stop of every station, then the final files
            self.bridge.shutdown(timeout_s=child_stop_wait_s(
                self.bridge.stations, self.bridge.held_max, self.bridge.engines))
            if self.sends_folder:  # before Locust's own "quit" message to the master
                self._send_folder()


def _sample_each_second(box: Any) -> None:
    while True:
        gevent.sleep(1.0)
        box.sample()


def _server(runner: Runner) -> Any:
    assert isinstance(runner, MasterRunner)
    return runner.server


def _client(runner: Runner) -> Any:
    assert isinstance(runner, WorkerRunner)
    return runner.client


def _pump(runner: Runner, done: Any, recv: Any, dispatch: Any, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for ``done()``. While Locust's own receiving greenlet runs
    it delivers our messages; after Locust killed it (at quit), read the socket here."""
    deadline = time.monotonic() + timeout_s
    while not done():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if any(not g.dead for g in runner.greenlet):
            gevent.sleep(min(0.1, left))
            continue
        try:
            with gevent.Timeout(min(0.2, left)):
                msg = recv()
        except gevent.Timeout:
            continue
        except RPCError:
            gevent.sleep(min(0.1, left))
            continue
        dispatch(msg)
    return True
