"""The only package that touches sockets, websockets and uvloop."""

from fleetsim.transport.engine import Engine, EngineOptions, EngineReport, fd_headroom

__all__ = ["Engine", "EngineOptions", "EngineReport", "fd_headroom"]
