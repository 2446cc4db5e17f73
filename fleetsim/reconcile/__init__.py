"""Reconciliation: what the stations did against what the CSMS recorded. Nothing lost."""

from fleetsim.reconcile.check import Difference, Reconciliation, reconcile

__all__ = ["Difference", "Reconciliation", "reconcile"]
