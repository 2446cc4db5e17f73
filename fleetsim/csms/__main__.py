"""``python -m fleetsim.csms [options]``: the same as ``fleetsim csms``."""

from __future__ import annotations

import argparse
import sys

from fleetsim.csms.command import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv) and run the CSMS; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m fleetsim.csms", description="Run the fleetsim reference CSMS."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
