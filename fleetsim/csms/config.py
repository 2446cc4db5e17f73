"""Configuration of the embedded CSMS, parsed once at the edge and frozen."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fleetsim.exceptions import FleetsimError

__all__ = ["MEMORY_DB", "CsmsConfig", "read_passwords", "read_tokens"]

MEMORY_DB = ":memory:"
"""The ``db`` value for a ledger that lives in memory and vanishes on exit."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CsmsConfig:
    """Everything that shapes the CSMS's answers and where it listens.

    Boot policy (OCPP 1.6 §4.2, 2.0.1 B01-B03): a station whose id is in
    ``reject_ids`` is answered Rejected; otherwise its first ``pending_first``
    BootNotifications are answered Pending; every later one Accepted with
    ``heartbeat_interval_s``. Pending and Rejected carry ``pending_interval_s``
    (the retry interval).

    Authorization: an idTag/idToken is Accepted if it is in ``tokens`` or
    starts with ``token_prefix`` (None: no prefix rule), else Invalid. OCPP 2.x
    tokens of type NoAuthorization are always Accepted.
    """

    host: str = "127.0.0.1"
    port: int = 0
    """TCP port; 0 picks a free one."""
    db: str = MEMORY_DB
    """Ledger file path, or ``":memory:"``."""
    heartbeat_interval_s: int = 60
    token_prefix: str | None = "FS"
    tokens: frozenset[str] = frozenset()
    master_pass_prefix: str | None = "FSMASTER"
    """2.x C16: an Accepted token starting with this is in the master pass group: its
    Authorize answer carries ``groupIdToken`` = this (None: no master pass tokens)."""
    pending_first: int = 0
    pending_interval_s: int = 10
    reject_ids: frozenset[str] = frozenset()
    flush_interval_s: float = 0.2
    """How often buffered ledger writes are committed [s]."""
    reuse_port: bool = False
    """Set SO_REUSEPORT so several processes can share the port."""
    transaction_id_stride: int = 1
    """1.6 transaction ids step by this much (the number of CSMS processes)."""
    transaction_id_offset: int = 0
    """This process's offset in 0..stride-1, so processes never issue the same id."""
    subprotocols: tuple[str, ...] = field(default=("ocpp1.6", "ocpp2.0.1", "ocpp2.1"))
    """Subprotocols accepted; a subset of the three supported ones."""
    tls_cert: str | None = None
    """Server certificate (PEM, chain after it): serve wss:// (security profiles 2, 3)."""
    tls_key: str | None = None
    client_ca: str | None = None
    """Profile 3: stations must present a certificate signed by this CA whose CN is the
    station id of the URL."""
    ca_key: str | None = None
    """With ``client_ca``: the CA's key, to sign station CSRs (A02) with the CA the
    handshake trusts. Without it the CSMS signs with its own in-memory CA."""
    password_template: str | None = None
    """Profile 1/2: HTTP Basic required, password = this with {station_id} substituted."""
    passwords: Mapping[str, str] = field(default_factory=dict)
    """Profile 1/2: HTTP Basic required, per-station passwords (station id → password)."""
    durable: bool = False
    """Commit the ledger before each answer (a SIGKILLed CSMS then loses nothing it
    acknowledged); otherwise writes are buffered for ``flush_interval_s``."""
    commands_file: str | None = None
    """JSON file of commands to send to stations (fleetsim/csms/commands.py); may appear
    after the start (the run writes it once its clock starts)."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise FleetsimError(f"csms: port must be in 0..65535, got {self.port}")
        if self.heartbeat_interval_s < 1:
            raise FleetsimError(
                f"csms: heartbeat interval must be >= 1 s, got {self.heartbeat_interval_s}"
            )
        if self.pending_first < 0:
            raise FleetsimError(f"csms: pending_first must be >= 0, got {self.pending_first}")
        if self.pending_interval_s < 1:
            raise FleetsimError(
                f"csms: pending interval must be >= 1 s, got {self.pending_interval_s}"
            )
        if self.flush_interval_s <= 0:
            raise FleetsimError(f"csms: flush interval must be > 0, got {self.flush_interval_s}")
        if not 0 <= self.transaction_id_offset < self.transaction_id_stride:
            raise FleetsimError("csms: need 0 <= transaction_id_offset < transaction_id_stride")
        unknown = set(self.subprotocols) - {"ocpp1.6", "ocpp2.0.1", "ocpp2.1"}
        if unknown or not self.subprotocols:
            raise FleetsimError(f"csms: unsupported subprotocols {sorted(unknown)}")

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    def expected_password(self, station_id: str) -> str | None:
        """The password a station must send, or None when Basic auth is off."""
        if self.passwords:
            return self.passwords.get(station_id, "\0no password for this station")
        if self.password_template is not None:
            return self.password_template.replace("{station_id}", station_id)
        return None

    def accepts_token(self, token: str) -> bool:
        """Whether ``token`` is authorized (in the list or carrying the prefix)."""
        if token in self.tokens:
            return True
        return self.token_prefix is not None and token.startswith(self.token_prefix)


def read_tokens(path: str | Path) -> frozenset[str]:
    """Read accepted tokens from a text file: one per line, ``#`` starts a comment.

    Raises :class:`FleetsimError` naming the file if it cannot be read.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FleetsimError(f"{path}: cannot read tokens: {exc.strerror or exc}") from exc
    return frozenset(_tokens(text.splitlines()))


def read_passwords(path: str | Path) -> tuple[str | None, dict[str, str]]:
    """A password file: one line ``template`` (with {station_id}) or ``id:password`` lines.

    Returns (template, per-station passwords). Raises FleetsimError naming the file
    (never its contents) when it cannot be read.
    """
    try:
        lines = [x.strip() for x in Path(path).read_text(encoding="utf-8").splitlines()]
    except OSError as exc:
        raise FleetsimError(f"{path}: cannot read passwords: {exc.strerror or exc}") from exc
    lines = [x for x in lines if x and not x.startswith("#")]
    if len(lines) == 1 and ("{station_id}" in lines[0] or ":" not in lines[0]):
        return lines[0], {}
    table: dict[str, str] = {}
    for i, line in enumerate(lines, 1):
        sid, sep, pw = line.partition(":")
        if not sep or not sid:
            raise FleetsimError(f"{path}:{i}: expected station_id:password")
        table[sid] = pw
    return None, table


def _tokens(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        token = line.split("#", 1)[0].strip()
        if token:
            yield token
