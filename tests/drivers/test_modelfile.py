"""Model files: every shipped archetype loads and cites a source for every number;
malformed files and overrides raise ModelError naming the file and the key path."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetsim.drivers import ArchetypeModel, known_models, load_model
from fleetsim.drivers.modelfile import load_archetype, parse_model
from fleetsim.drivers.registry import BUNDLED_MODELS_DIR
from fleetsim.exceptions import ModelError

ARCHETYPES = ("residential_ac", "workplace_ac", "public_ac", "dc_fast", "fleet_depot")


def _doc(name: str = "workplace_ac") -> dict[str, Any]:
    doc = yaml.safe_load((BUNDLED_MODELS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return copy.deepcopy(doc)


def _error(doc: object, overrides: dict[str, Any] | None = None) -> str:
    with pytest.raises(ModelError) as info:
        parse_model(doc, file="drivers_models/workplace_ac.yaml", overrides=overrides)
    return str(info.value)


def test_the_five_archetypes_and_uniform_are_known() -> None:
    assert set(known_models()) >= {*ARCHETYPES, "uniform"}
    for name in ARCHETYPES:
        model = load_model(name)
        assert isinstance(model, ArchetypeModel) and model.name == name


def test_every_number_in_the_shipped_files_has_a_tagged_source() -> None:
    tag = re.compile(r"^\[(D|P|A|C)\]")
    for name in ARCHETYPES:
        doc = _doc(name)
        assert doc["name"] == name and doc["notes"].strip()
        for section in ("evse", "arrival", "marks", "vehicles", "soc", "id_tags", "occupancy"):
            src = doc[section]["source"]
            texts = [src] if isinstance(src, str) else list(src.values())
            assert all(tag.match(t) for t in texts), (name, section)
    bad = _doc()
    del bad["arrival"]["source"]["gamma_shape_r"]
    assert _error(bad) == ("drivers_models/workplace_ac.yaml: arrival.gamma_shape_r: no source: "
                           "add `source:` tagged [D], [P], [C] or [A] (ev-models.md)")
    bad = _doc()
    bad["evse"]["source"] = "from a blog"
    assert "evse.source: must start with [D], [P], [C] or [A]" in _error(bad)


@pytest.mark.parametrize(("path", "value", "message"), [
    (("arrival", "weekday_profile"), [0.1] * 24,
     "arrival.weekday_profile: expected 24 numbers summing to 1 (sum 2.4000)"),
    (("arrival", "weekday_profile"), [0.5, 0.5],
     "arrival.weekday_profile: expected 24 numbers summing to 1"),
    (("arrival", "dow_factors"), [1, 1, 1], "arrival.dow_factors: expected 7 numbers >= 0"),
    (("arrival", "count_law"), "weibull", "arrival.count_law: must be one of poisson, bernoulli"),
    (("arrival", "sessions_per_connector_day"), -1,
     "arrival.sessions_per_connector_day: must be > 0"),
    (("marks", "energy_clip_kwh"), [5, 1], "marks.energy_clip_kwh: expected [low, high]"),
    (("evse", "phases"), 4, "evse.phases: must be <= 3"),
    (("id_tags", "one_off_share"), 1.5, "id_tags.one_off_share: must be <= 1"),
    (("occupancy", "policy"), "wait", "occupancy.policy: must be one of balk, queue"),
    (("soc", "start_beta"), [0, 1], "soc.start_beta: expected [a, b] with a, b > 0"),
])
def test_malformed_values_name_file_and_key(path: tuple[str, str], value: object,
                                            message: str) -> None:
    doc = _doc()
    doc[path[0]][path[1]] = value
    got = _error(doc)
    assert got.startswith("drivers_models/workplace_ac.yaml: " + message), got


def test_structural_problems_name_the_key() -> None:
    doc = _doc()
    doc["arrival"]["sessions_per_day"] = 2
    doc["arrival"]["source"]["sessions_per_day"] = "[A] x"
    assert "arrival.sessions_per_day: unknown key (did you mean 'sessions_per_connector_day'?)" \
        in _error(doc)
    doc = _doc()
    del doc["vehicles"]
    assert _error(doc).endswith("vehicles: is required")
    doc = _doc()
    doc["marks"]["buckets"][2]["departure_h"] = {"mean": 7.0, "sd": 1.0}
    doc["marks"]["buckets"][2]["source"] = "[A] x"
    assert "marks.buckets[2]: give exactly one of ln_dwell_h or departure_h" in _error(doc)
    doc = _doc()
    doc["vehicles"]["classes"][0]["share"] = 0.5
    assert "vehicles.classes: class shares must sum to 1, got 1.4000" in _error(doc)
    doc = _doc()
    doc["name"] = "office"
    assert "name: expected 'workplace_ac' (the file name)" in _error(doc)


def test_overrides_are_deep_merged_nested_or_dotted() -> None:
    nested = load_model("workplace_ac", overrides={"arrival": {"gamma_shape_r": None}})
    dotted = load_model("workplace_ac", overrides={"arrival.sessions_per_connector_day": 2.0,
                                                   "evse.max_power_kw": 11})
    assert isinstance(nested, ArchetypeModel) and isinstance(dotted, ArchetypeModel)
    assert nested.params.arrival.gamma_shape_r is None
    assert nested.params.arrival.weekday_profile == dotted.params.arrival.weekday_profile
    assert dotted.params.arrival.sessions_per_connector_day == 2.0
    assert dotted.params.arrival.gamma_shape_r == 4.6  # untouched keys keep the file's values
    assert dotted.evse.max_power_w == 11_000


def test_override_errors_name_the_override_key() -> None:
    doc = _doc()
    assert _error(doc, {"arrival.sessions_per_connector_day": "many"}) == (
        "drivers.overrides.workplace_ac.arrival.sessions_per_connector_day: "
        "expected a number, got 'many'")
    assert _error(doc, {"sessions_per_connector_day": 2}) == (
        "drivers.overrides.workplace_ac.sessions_per_connector_day: unknown key "
        "(did you mean 'arrival.sessions_per_connector_day'?)")
    assert _error(doc, {"arrival": {"weekday_profile": [1.0]}}).startswith(
        "drivers.overrides.workplace_ac.arrival.weekday_profile: expected 24 numbers summing to 1")


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ModelError, match=r"unknown driver model 'office_ac' \(known: "
                                         r"battery_swap, dc_fast, fleet_depot, public_ac, residential_ac, uniform, "
                                         r"workplace_ac"):
        load_model("office_ac")
    with pytest.raises(ModelError, match=r"unknown driver model '\.\./etc/passwd'"):
        load_model("../etc/passwd")


def test_models_dir_is_relative_to_cwd_with_the_bundled_fallback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert isinstance(load_model("public_ac"), ArchetypeModel)  # bundled fallback
    (tmp_path / "drivers_models").mkdir()
    doc = _doc()
    doc["name"] = "office_ac"
    doc["arrival"]["sessions_per_connector_day"] = 0.5
    (tmp_path / "drivers_models" / "office_ac.yaml").write_text(yaml.safe_dump(doc))
    model = load_model("office_ac")
    assert isinstance(model, ArchetypeModel) and model.params.arrival.sessions_per_connector_day == 0.5
    (tmp_path / "drivers_models" / "broken.yaml").write_text("name: broken\nevse: [1, 2\n")
    with pytest.raises(ModelError, match=r"drivers_models/broken.yaml: invalid YAML: line 3"):
        load_archetype(Path("drivers_models/broken.yaml"))


def test_unreachable_calibration_mean_is_a_model_error() -> None:
    with pytest.raises(ModelError, match=r"marks.calibration: mean 100 is not reachable"):
        load_model("workplace_ac", overrides={"marks.calibration.dwell_h.mean": 100})
