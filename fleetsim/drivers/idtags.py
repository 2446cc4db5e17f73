"""idTags: a per-station pool of regular users with heavy-user skew, plus one-off tags.

Each station has ``pool_size`` users with weights w_u ~ Gamma(k, 1) (equal when
k is None); a session is a one-off (fresh tag) with probability
``one_off_share``, else it picks a user by weight (ev-models.md §3.5). A user is
never in two overlapping sessions: strict CSMSs answer ``ConcurrentTx``
(OCPP 1.6 §7.2 AuthorizationStatus). If the drawn user is still plugged in at
another connector, the same uniform picks among the station's free users.

Tags look like ISO 14443 7-byte UIDs, 14 upper-case hex characters (OCPP
idToken type ISO14443; CiString20 in 1.6): ``04`` (NXP manufacturer byte) for pool
users, ``05`` for one-offs, then 48 bits that are a keyed permutation (a Feistel
network) of ``station index << 24 | n`` — n the user, or the station's one-off count.
The key comes from the fleet (its ``id_prefix``) and the seed, so tags are unique
within a fleet by construction, two fleets on one CSMS differ (a chance collision of
two 48-bit values), and a CSMS can be provisioned with :func:`id_tag_pool`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

from fleetsim.drivers.occupancy import rank_groups

__all__ = ["ONE_OFF", "assign_users", "fleet_key", "id_tag_pool", "one_off_tags", "pool_tags"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ONE_OFF = -1
_M24 = 0xFFFFFF
_ROUNDS = 4


def fleet_key(fleet: str, seed: int) -> tuple[int, ...]:
    """Round keys of the tag permutation of fleet ``fleet`` (its id_prefix) and ``seed``."""
    h = hashlib.blake2b(f"{fleet}\0{seed}".encode(), digest_size=4 * _ROUNDS).digest()
    return tuple(int.from_bytes(h[4 * i:4 * i + 4], "big") & _M24 for i in range(_ROUNDS))


def _permute(key: tuple[int, ...], station: IntArray, n: IntArray) -> npt.NDArray[np.uint64]:
    """A bijection of the 48-bit ``station << 24 | n`` (both < 2**24) under ``key``."""
    left = np.asarray(station, dtype=np.uint64) & np.uint64(_M24)
    right = np.asarray(n, dtype=np.uint64) & np.uint64(_M24)
    for k in key:
        f = ((right ^ np.uint64(k)) * np.uint64(0x9E3779B1)) >> np.uint64(11)
        left, right = right, left ^ (f & np.uint64(_M24))
    out: npt.NDArray[np.uint64] = (left << np.uint64(24)) | right
    return out


def _tags(prefix: int, key: tuple[int, ...], station: IntArray, n: IntArray) -> list[str]:
    return [f"{prefix:02X}{x:012X}" for x in _permute(key, station, n).tolist()]


def pool_tags(key: tuple[int, ...], station: IntArray, user: IntArray) -> list[str]:
    """Tags of regular users ``user`` of stations ``station`` (14 hex, ``04…``)."""
    return _tags(0x04, key, station, user)


def one_off_tags(key: tuple[int, ...], station: IntArray, count: IntArray) -> list[str]:
    """Tag of one-off number ``count`` at station ``station`` (14 hex, ``05…``)."""
    return _tags(0x05, key, station, count)


def id_tag_pool(station_index: int, size: int, *, fleet: str = "", seed: int = 1) -> list[str]:
    """All regular users' tags of a station, e.g. to provision a CSMS's authorisation list."""
    users = np.arange(size, dtype=np.int64)
    return pool_tags(fleet_key(fleet, seed), np.full(size, station_index), users)


def assign_users(station: IntArray, start_s: FloatArray, end_s: FloatArray, *,
                 u_user: FloatArray, one_off: npt.NDArray[np.bool_], weights: FloatArray,
                 offsets: IntArray, sizes: IntArray, connectors: IntArray,
                 busy: FloatArray) -> IntArray:
    """User index per session (``ONE_OFF`` for fresh tags).

    Rows sorted by (station, start_s); ``weights[offsets[s]:offsets[s]+sizes[s]]`` is
    station s's pool and ``busy`` (same layout, updated in place) when each user next
    unplugs, carried from one planning window to the next. Only stations with several
    connectors can have overlapping sessions, so only their rows go through the
    (vectorised) clash check.
    """
    owner = np.repeat(np.arange(len(sizes)), sizes)
    cum = np.empty_like(weights)
    for lo, size in zip(offsets.tolist(), sizes.tolist(), strict=True):
        c = np.cumsum(weights[lo:lo + size])
        cum[lo:lo + size] = c / c[-1]
    keys = owner + cum
    user = np.searchsorted(keys, station + u_user, side="right") - offsets[station]
    user = np.minimum(user, sizes[station] - 1)
    user = np.where(one_off, ONE_OFF, user)
    multi = np.flatnonzero(connectors[station] > 1)
    if len(multi) == 0:
        return user
    for group in rank_groups(station[multi]):
        rows = multi[group]
        s, t, usr = station[rows], start_s[rows], user[rows]
        pooled = usr != ONE_OFF
        clash = pooled & (busy[offsets[s] + np.maximum(usr, 0)] > t)
        for r in rows[clash].tolist():
            lo, size = int(offsets[station[r]]), int(sizes[station[r]])
            w = weights[lo:lo + size] * (busy[lo:lo + size] <= start_s[r])
            if w.sum() <= 0:
                user[r] = ONE_OFF
                continue
            c = np.cumsum(w)
            user[r] = min(int(np.searchsorted(c / c[-1], u_user[r], side="right")), size - 1)
        usr = user[rows]
        pooled = usr != ONE_OFF
        busy[offsets[s[pooled]] + usr[pooled]] = end_s[rows][pooled]
    return user
