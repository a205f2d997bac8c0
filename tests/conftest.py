"""Shared fixtures. The suite profiles strictly: an op without a formula fails the test that meets it."""

from __future__ import annotations

import functools

import pytest
import torch

from estimator import profile

strict_profile = functools.partial(profile, strict=True)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def layer(prof, name: str):
    """One row of a profile's layer table."""
    return prof.layers.loc[name]
