"""The job contracts are typed all the way down: no ``Any`` (so no ``dict[str, Any]``) in them.

``core/`` and ``jobs/`` meet only in the models of ``core/jobs.py``; a field typed ``Any``
would let a payload or a result cross as a bag of string keys again.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel

import core.jobs
from core.jobs import JobEvent, RenderResult
from core.measurements import Measurements

CONTRACTS = [obj for name in core.jobs.__all__
             if inspect.isclass(obj := getattr(core.jobs, name)) and issubclass(obj, BaseModel)]


def _untyped(annotation: object, where: str, seen: set[type]) -> list[str]:
    """Every place under ``annotation`` typed ``Any``, following nested models."""
    if annotation is Any:
        return [where]
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return []
        seen.add(annotation)
        return [miss for name, field in annotation.model_fields.items()
                for miss in _untyped(field.annotation, f"{annotation.__name__}.{name}", seen)]
    if get_origin(annotation) is typing.Annotated:
        return _untyped(get_args(annotation)[0], where, seen)
    return [miss for arg in get_args(annotation) if arg is not Ellipsis
            for miss in _untyped(arg, where, seen)]


def test_the_contracts_are_found() -> None:
    names = {model.__name__ for model in CONTRACTS}
    assert {"RenderRequest", "RenderResult", "ExportResult", "JobEvent", "JobRequest"} <= names


@pytest.mark.parametrize("model", CONTRACTS, ids=lambda m: m.__name__)
def test_no_field_of_a_job_contract_is_untyped(model: type[BaseModel]) -> None:
    assert _untyped(model, model.__name__, set()) == []


def test_the_checker_itself_finds_an_untyped_field() -> None:
    class Loose(BaseModel):
        result: dict[str, Any] = {}
        maybe: list[Any] | None = None

    assert _untyped(Loose, "Loose", set()) == ["Loose.result", "Loose.maybe"]
    assert _untyped(types.NoneType, "x", set()) == []


def test_a_finished_render_is_read_as_typed_measurements() -> None:
    event = JobEvent(job_id="j", production_id="local:p", kind="render", status="done",
                     result={"artifacts": {}, "measurements": {
                         "integrated_lufs": -14.0, "tracks": {"bass": {"track_level_db": -9.5}}}})
    assert isinstance(event.result, RenderResult)
    assert isinstance(event.result.measurements, Measurements)
    assert event.result.measurements.value("track_level_db", "bass") == -9.5
    assert JobEvent.model_validate_json(event.model_dump_json()) == event


def test_stored_measurements_load_and_write_back_the_same_keys() -> None:
    stored = {"integrated_lufs": -14.2, "key": "Am", "tempo_bpm": 124.0,
              "tracks": {"pad": {"track_level_db": -18.0, "ducking_depth_db": 6.1}},
              "instruments": {"vault": "synth", "note": "", "kits": [], "synth_roles": [],
                              "samples": []},
              "mismatches": [], "a_number_a_newer_engine_adds": 1.5}
    m = Measurements.model_validate(stored)
    assert m.model_dump(mode="json") == stored
    assert m["a_number_a_newer_engine_adds"] == 1.5 and m["tempo_bpm"] == 124.0
    assert m.value("ducking_depth_db", "pad") == 6.1 and m.value("ducking_depth_db") is None
    assert "low_end_db" not in m and m and not Measurements()
