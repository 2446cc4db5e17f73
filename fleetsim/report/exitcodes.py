"""Process exit codes of ``fleetsim run``, ``fleetsim report`` and ``fleetsim compare``.

CI systems branch on these, so they never change meaning:

* ``OK`` (0): the command did what was asked and every gate passed.
* ``USAGE`` (2): bad command line, scenario or SLO expression, unreadable results
  (argparse also exits 2 on a bad command line).
* ``SLO_FAILED`` (3): the run completed but an SLO (``--fail-on``) failed, or
  ``fleetsim compare`` found a regression.
* ``RUN_INCOMPLETE`` (4): the run itself did not complete (CSMS unreachable,
  interrupted, generator invalid when the caller asked for a valid one).
"""

from __future__ import annotations

from typing import Final

__all__ = ["OK", "RUN_INCOMPLETE", "SLO_FAILED", "USAGE"]

OK: Final = 0
USAGE: Final = 2
SLO_FAILED: Final = 3
RUN_INCOMPLETE: Final = 4
