"""Live views of a running fleet: merged figures, the Locust Fleet tab, /metrics."""

from fleetsim.live.figures import STATES, Board, EngineFeed, LiveFigures, engine_snapshot, merge

__all__ = ["STATES", "Board", "EngineFeed", "LiveFigures", "engine_snapshot", "merge"]
