"""idTags: a per-station pool of regular users with heavy-user skew, plus one-off tags.

Each station has ``pool_size`` users with weights w_u ~ Gamma(k, 1) (equal when
k is None); a session is a one-off (fresh tag) with probability
``one_off_share``, else it picks a user by weight (ev-models.md §3.5). A user is
never in two overlapping sessions: strict CSMSs answer ``ConcurrentTx``
(OCPP 1.6 §7.2 AuthorizationStatus). If the drawn user is still plugged in at
another connector, the same uniform picks among the station's free users.

Tags look like ISO 14443 7-byte UIDs, 14 upper-case hex characters (OCPP
idToken type ISO14443; CiString20 in 1.6): pool users
``04`` (NXP manufacturer byte) + station index (8 hex) + user (4 hex), the same
for every seed so a CSMS can be provisioned with :func:`id_tag_pool`; one-offs
``05`` + 48 random bits from the station's idTag stream.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from fleetsim.drivers.occupancy import rank_groups

__all__ = ["ONE_OFF", "assign_users", "id_tag_pool", "one_off_tag", "pool_tag"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ONE_OFF = -1


def pool_tag(station_index: int, user: int) -> str:
    """Tag of regular user ``user`` of station ``station_index`` (14 hex)."""
    return f"04{station_index & 0xFFFFFFFF:08X}{user & 0xFFFF:04X}"


def one_off_tag(bits48: int) -> str:
    """A one-off tag from 48 random bits (14 hex)."""
    return f"05{bits48 & 0xFFFFFFFFFFFF:012X}"


def id_tag_pool(station_index: int, size: int) -> list[str]:
    """All regular users' tags of a station, e.g. to provision a CSMS's authorisation list."""
    return [pool_tag(station_index, u) for u in range(size)]


def assign_users(station: IntArray, start_s: FloatArray, end_s: FloatArray, *,
                 u_user: FloatArray, one_off: npt.NDArray[np.bool_], weights: FloatArray,
                 offsets: IntArray, sizes: IntArray, connectors: IntArray) -> IntArray:
    """User index per session (``ONE_OFF`` for fresh tags).

    Rows sorted by (station, start_s); ``weights[offsets[s]:offsets[s]+sizes[s]]`` is
    station s's pool. Only stations with several connectors can have overlapping
    sessions, so only their rows go through the (vectorised) clash check.
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
    busy = np.full(len(weights), -np.inf)
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
