"""Sans-I/O station core: frames and driver intents in, frames and metrics out."""

from fleetsim.scenario.model import OcppVersion
from fleetsim.station.clock import Clock, iso_ms
from fleetsim.station.config import StationConfig
from fleetsim.station.core import StationCore
from fleetsim.station.v2 import Station2, Station21, Station201
from fleetsim.station.v16 import Station16

__all__ = [
           "STATION_CLASSES",
           "Clock",
           "Station2",
           "Station16",
           "Station21",
           "Station201",
           "StationConfig",
           "StationCore",
           "iso_ms",
]

STATION_CLASSES: dict[OcppVersion, type[StationCore]] = {
    OcppVersion.V16: Station16,
    OcppVersion.V201: Station201,
    OcppVersion.V21: Station21,
}
