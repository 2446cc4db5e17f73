"""Tests of the embedded reference CSMS (fleetsim.csms)."""
