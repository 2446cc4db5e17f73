"""Capacity search: raise the fleet in steps until an SLO breaks or the generator saturates."""

from fleetsim.capacity.search import CapacityResult, Level, search

__all__ = ["CapacityResult", "Level", "search"]
