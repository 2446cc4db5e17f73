"""Meter samples: the two kept measurands, units normalised, registers picked."""

from __future__ import annotations

from fleetsim.csms.metering import ENERGY_REGISTER, POWER, energy_register_wh, read_samples
from fleetsim.csms.records import MeterSample


def test_v16_samples_defaults_units_and_filtering() -> None:
    samples = read_samples(
        [
            {
                "timestamp": "t",
                "sampled_value": [
                    {"value": "1500"},  # default measurand and unit: the register in Wh
                    {"value": "1.6", "unit": "kWh", "phase": "L1"},
                    {"value": "3.7", "measurand": POWER, "unit": "kW"},
                    {"value": "2000", "measurand": POWER},
                    {"value": "16", "measurand": "Current.Import", "unit": "A"},
                    {"value": "abc", "format": "SignedData"},
                    {"value": "n/a"},
                ],
            }
        ]
    )
    assert [(s.measurand, s.phase, s.value, s.unit) for s in samples] == [
        (ENERGY_REGISTER, None, 1500.0, "Wh"),
        (ENERGY_REGISTER, "L1", 1600.0, "Wh"),
        (POWER, None, 3700.0, "W"),
        (POWER, None, 2000.0, "W"),
    ]


def test_v2_unit_of_measure_and_multiplier() -> None:
    samples = read_samples(
        [
            {
                "timestamp": "t",
                "sampled_value": [
                    {"value": 12.5, "unit_of_measure": {"unit": "kWh"}},
                    {
                        "value": 7,
                        "measurand": POWER,
                        "unit_of_measure": {"unit": "W", "multiplier": 3},
                    },
                ],
            }
        ]
    )
    assert [(s.value, s.unit) for s in samples] == [(12500.0, "Wh"), (7000.0, "W")]
    assert read_samples(None) == []


def test_energy_register_uses_totals_only() -> None:
    def energy(value: float, phase: str | None = None) -> MeterSample:
        return MeterSample("t", ENERGY_REGISTER, phase, value, "Wh")

    samples = [energy(1, "L1"), energy(10), MeterSample("t", POWER, None, 5, "W"), energy(20)]
    assert energy_register_wh(samples) == 10
    assert energy_register_wh(samples, last=True) == 20
    assert energy_register_wh([energy(1, "L1")]) is None
    assert energy_register_wh([]) is None
