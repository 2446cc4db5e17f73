"""Keep secrets out of what fleetsim writes: results, logs, the scenario as run.

The results folder holds a masked scenario (``***``). Nothing that drives stations
may read it back: ``fleetsim run`` hands the real values to its Locust master in
the child's environment (:data:`SECRETS_ENV`, never a file), and the master
passes the scenario on to workers and engines over Locust's messaging and pipes.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

__all__ = ["MASK", "SECRETS_ENV", "mask_secrets", "masked_keys", "restore_secrets",
           "secrets_env", "take_secrets_env"]

MASK = "***"
SECRETS_ENV = "FLEETSIM_SCENARIO_SECRETS"  # JSON [[key path, value], ...] for a child process
_SECRET_KEYS = frozenset({"password", "passwords", "private_key", "key_password"})

Secret = tuple[tuple[str | int, ...], Any]


def _is_secret(key: object, value: object) -> bool:
    return str(key).lower() in _SECRET_KEYS and value is not None


def mask_secrets(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a scenario mapping with every password replaced by ``***``.

    Private keys are only ever referred to by path, so paths stay.
    """
    def walk(x: Any) -> Any:
        if isinstance(x, Mapping):
            return {k: (MASK if _is_secret(k, v) else walk(v)) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return copy.copy(x)

    out: dict[str, Any] = walk(raw)
    return out


def _secrets(raw: Any, path: tuple[str | int, ...] = ()) -> list[Secret]:
    if isinstance(raw, Mapping):
        out: list[Secret] = []
        for k, v in raw.items():
            out += [((*path, str(k)), v)] if _is_secret(k, v) else _secrets(v, (*path, str(k)))
        return out
    if isinstance(raw, list):
        return [s for i, v in enumerate(raw) for s in _secrets(v, (*path, i))]
    return []


def masked_keys(raw: Mapping[str, Any]) -> list[str]:
    """Dotted key paths whose value is still the mask: a scenario read back from results."""
    return [".".join(map(str, p)) for p, v in _secrets(raw) if v == MASK]


def restore_secrets(raw: MutableMapping[str, Any], secrets: Sequence[Secret]) -> None:
    """Put the real values back into a masked scenario mapping, in place."""
    for path, value in secrets:
        node: Any = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value


def secrets_env(raw: Mapping[str, Any]) -> dict[str, str]:
    """Environment entries that carry ``raw``'s secrets to a child process (empty if none)."""
    found = _secrets(raw)
    return {SECRETS_ENV: json.dumps([[list(p), v] for p, v in found])} if found else {}


def take_secrets_env() -> list[Secret]:
    """The secrets a parent passed in the environment, removed from it (read once)."""
    text = os.environ.pop(SECRETS_ENV, None)
    if not text:
        return []
    return [(tuple(p), v) for p, v in json.loads(text)]
