"""Keep secrets out of what fleetsim writes: results, logs, the scenario as run."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["MASK", "mask_secrets"]

MASK = "***"
_SECRET_KEYS = frozenset({"password", "passwords", "private_key", "key_password"})


def mask_secrets(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a scenario mapping with every password replaced by ``***``.

    Private keys are only ever referred to by path, so paths stay.
    """
    def walk(x: Any) -> Any:
        if isinstance(x, Mapping):
            return {k: (MASK if str(k).lower() in _SECRET_KEYS and v is not None else walk(v))
                    for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return copy.copy(x)

    out: dict[str, Any] = walk(raw)
    return out
