"""Where hardware models come from: the shipped presets, user files (TOML or ZigZag YAML) and built models."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from .errors import UserError
from .model import HardwareModel, load_toml
from .zigzag import read_accelerator

PRESETS = Path(__file__).parent / "presets"


def available() -> list[str]:
    """Names of the shipped presets."""
    return sorted(p.stem for p in PRESETS.glob("*.toml"))


@cache
def get(name: str) -> HardwareModel:
    """A shipped preset by name (see :func:`available`)."""
    path = PRESETS / f"{name}.toml"
    if not path.is_file():
        raise UserError(f"unknown hardware preset '{name}'; available: {', '.join(available())} "
                         "(or pass a path to a TOML or ZigZag YAML file)")
    return load_toml(path)


def load(path: str | Path, mapping: str | Path | None = None) -> HardwareModel:
    """Load and validate a hardware file: a TOML description (the format of ``hwmodels/presets``) or a ZigZag
    accelerator YAML with an optional ZigZag mapping YAML (see :mod:`hwmodels.zigzag`); not cached.

    Raises:
        HardwareFileError: naming the file, the field and the expected form.
        ValueError: a mapping file given with a TOML description.
    """
    text = str(path)
    if text.endswith((".yaml", ".yml")):
        return read_accelerator(path, mapping)
    if mapping is not None:
        raise UserError(f"a mapping file ({mapping}) applies to a ZigZag accelerator YAML, not to {path}")
    return load_toml(path)


def read_file(path: str, mapping: str | None) -> HardwareModel:
    """:func:`load`, cached by resolved path and the files' modification times and sizes (a sweep resolves the same
    file many times; an edited file is read again)."""
    return read_versions(path, mapping, version(path), version(mapping))


def version(path: str | None) -> tuple[int, int] | None:
    """(modification time in ns, size in bytes) of a file, None for none or a missing one."""
    if path is None or not Path(path).is_file():
        return None
    stat = Path(path).stat()
    return stat.st_mtime_ns, stat.st_size


@cache
def read_versions(path: str, mapping: str | None, path_version, mapping_version) -> HardwareModel:
    """:func:`load` cached by the files' versions (see :func:`read_file`)."""
    return load(path, mapping)


def resolve(hw: str | Path | HardwareModel, mapping: str | Path | None = None) -> HardwareModel:
    """A HardwareModel from a preset name, a TOML or ZigZag YAML path (with an optional ZigZag mapping YAML), or a
    model."""
    if isinstance(hw, HardwareModel):
        return hw
    text = str(hw)
    if text.endswith((".toml", ".yaml", ".yml")) or Path(text).is_file():
        return read_file(str(Path(text).resolve()), None if mapping is None else str(Path(mapping).resolve()))
    if mapping is not None:
        raise UserError(f"a mapping file ({mapping}) applies to a ZigZag accelerator YAML, not to the preset {text}")
    return get(text)
