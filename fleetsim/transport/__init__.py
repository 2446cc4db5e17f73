"""The only package that touches sockets, websockets and uvloop."""

from fleetsim.transport.engine import Engine
from fleetsim.transport.options import EngineOptions, EngineReport, fd_headroom

__all__ = ["Engine", "EngineOptions", "EngineReport", "fd_headroom"]
