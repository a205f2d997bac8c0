"""Where hardware models come from: the shipped presets, user files and already-built models."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from .model import HardwareModel, load

PRESETS = Path(__file__).parent / "presets"


def available() -> list[str]:
    """Names of the shipped presets."""
    return sorted(p.stem for p in PRESETS.glob("*.toml"))


@cache
def get(name: str) -> HardwareModel:
    """A shipped preset by name (``horowitz45``, ``eyeriss65``)."""
    path = PRESETS / f"{name}.toml"
    if not path.is_file():
        raise ValueError(f"unknown hardware preset '{name}'; available: {', '.join(available())} "
                         "(or pass a path to a TOML file)")
    return load(path)


def resolve(hw: str | Path | HardwareModel) -> HardwareModel:
    """A HardwareModel from a preset name, a TOML path or a model."""
    if isinstance(hw, HardwareModel):
        return hw
    text = str(hw)
    if text.endswith(".toml") or Path(text).is_file():
        return load(text)
    return get(text)
