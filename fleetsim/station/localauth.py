"""Local authorization: the authorization cache, the local list, pre- and offline
authorization (OCPP 1.6 §3.5; 2.0.1 part 2 C10-C15 and D01).

A station that authorizes locally sends no Authorize for a token its local list or
cache holds as Accepted (LocalPreAuthorize), and while offline decides from them
(LocalAuthorizeOffline): a token they hold as not Accepted is refused, an unknown
one is let through as before (OfflineTxForUnknownIdEnabled). Authorize answers fill
the cache when it is enabled (1.6 AuthorizationCacheEnabled, 2.0.1
AuthCacheCtrlr.Enabled); ClearCache empties it. The groupId / parentIdTag of an
answer is kept with the cached status. The flags start from the station's config
(``local_pre_authorize``, ``auth_cache``; ``local_auth_share`` of the stations, chosen
by a stable hash of the station id, get both), the CSMS may change them; everything is
kept in ``st.extra["auth"]``, allocated on first use.

Master pass (2.0.1/2.1 C16): a token whose Authorize answer names the group
AuthCtrlr.MasterPassGroupId (``groupIdToken``; the station's config
``master_pass_group``, the CSMS may set it) stops every transaction and never starts
one (:mod:`fleetsim.station.masterpass`); such answers are not cached, so the
decision is always the CSMS's.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from fleetsim.station.lifecycle import extra

if TYPE_CHECKING:
    from fleetsim.station.core import StationCore

__all__ = ["Flag", "cache_answer", "clear_cache", "flag", "is_master_pass", "local_decision",
           "master_pass_group", "set_flag"]

CACHE_MAX = 1000  # entries; the least recently added goes first


class Flag:
    """Names of the local-authorization switches."""

    PRE = "pre"          # LocalPreAuthorize / AuthCtrlr.LocalPreAuthorize
    OFFLINE = "offline"  # LocalAuthorizeOffline / AuthCtrlr.LocalAuthorizeOffline
    CACHE = "cache"      # AuthorizationCacheEnabled / AuthCacheCtrlr.Enabled
    LIST = "list"        # LocalAuthListEnabled / LocalAuthListCtrlr.Enabled


def _defaults(st: StationCore) -> dict[str, bool]:
    local = st.cfg.local_auth_share > 0 and (
        zlib.crc32(f"localauth/{st.station_id}".encode()) / 2**32 < st.cfg.local_auth_share)
    return {Flag.PRE: st.cfg.local_pre_authorize or local, Flag.OFFLINE: True,
            Flag.CACHE: st.cfg.auth_cache or local, Flag.LIST: True}


def flag(st: StationCore, name: str) -> bool:
    auth = (st.extra or {}).get("auth")
    if auth is not None and name in auth:
        return bool(auth[name])
    return _defaults(st)[name]


def set_flag(st: StationCore, name: str, value: bool) -> None:
    extra(st).setdefault("auth", {})[name] = value
    if name == Flag.CACHE and not value:
        clear_cache(st)


def getter(name: str) -> Any:
    return lambda st: "true" if flag(st, name) else "false"


def setter(name: str) -> Any:
    def set_value(st: StationCore, v: bool, t: float) -> None:
        set_flag(st, name, v)
    return set_value


def _known_status(st: StationCore, token: str) -> str | None:
    """The token's status in the local list (first) or the cache, or None if unknown."""
    ex = st.extra
    if ex is None:
        return None
    if flag(st, Flag.LIST):
        status = ex.get("local_list", (0, {}))[1].get(token)
        if status is not None:
            return str(status)
    cache = ex.get("auth", {}).get("entries")
    if cache and flag(st, Flag.CACHE):
        hit = cache.get(token)
        if hit is not None:
            return str(hit[0])
    return None


def local_decision(st: StationCore, token: str) -> bool | None:
    """True: start without Authorize; False: refuse locally; None: ask the CSMS."""
    if st.connected:
        if flag(st, Flag.PRE) and _known_status(st, token) == "Accepted":
            return True
        return None
    if not flag(st, Flag.OFFLINE):
        return True  # as before: an offline station lets the driver charge
    status = _known_status(st, token)
    return status is None or status == "Accepted"


def cache_answer(st: StationCore, token: str, info: Any) -> None:
    """Remember an Authorize answer (idTagInfo / idTokenInfo) when the cache is on."""
    if not isinstance(info, dict) or not flag(st, Flag.CACHE):
        return
    status = info.get("status")
    if not isinstance(status, str) or is_master_pass(st, info):
        return
    group = info.get("parentIdTag") or (info.get("groupIdToken") or {}).get("idToken")
    entries: dict[str, tuple[str, str | None]] = extra(st).setdefault(
        "auth", {}).setdefault("entries", {})
    entries.pop(token, None)
    entries[token] = (status, group)
    if len(entries) > CACHE_MAX:
        del entries[next(iter(entries))]


def clear_cache(st: StationCore) -> None:
    auth = (st.extra or {}).get("auth")
    if auth is not None:
        auth.pop("entries", None)


def master_pass_group(st: StationCore) -> str:
    """AuthCtrlr.MasterPassGroupId ("" : none)."""
    auth = (st.extra or {}).get("auth")
    if auth is not None and "master" in auth:
        return str(auth["master"])
    return st.cfg.master_pass_group


def set_master_pass_group(st: StationCore, value: str, t: float) -> None:
    extra(st).setdefault("auth", {})["master"] = value


def is_master_pass(st: StationCore, info: Any) -> bool:
    """Whether an idTokenInfo puts its token in the master pass group (C16)."""
    group = master_pass_group(st)
    if not group or not isinstance(info, dict) or info.get("status") != "Accepted":
        return False
    token = info.get("groupIdToken")
    return isinstance(token, dict) and token.get("idToken") == group
