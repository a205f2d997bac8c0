"""Canonical signed-digit (CSD) form of dyadic constants and the shift-add cost of multiplying by them.

A dyadic rational c = sum_t s_t 2^(e_t) (s_t = +-1) multiplies an input with (w - 1) additions and one
shift per term with e_t != 0, where w is the number of non-zero digits of its CSD form (the minimum over
all signed-digit forms). +-1 is free (the sign folds into the accumulating add); 0 removes the tap.
"""

from __future__ import annotations

import numpy as np

MAX_FRACTION_BITS = 40
"""Dyadic values are resolved to 2^-40 (float64 holds the scaled integers exactly up to 2^53)."""


def csd_digits(values: np.ndarray, fraction_bits: int = MAX_FRACTION_BITS) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised CSD decomposition.

    Args:
        values: dyadic numbers (any shape); each must be an integer multiple of 2^-fraction_bits.
        fraction_bits: the resolution used to turn values into integers.

    Returns:
        ``(terms, shifted_terms)``, each of ``values``' shape: the number of non-zero CSD digits, and how
        many of them have an exponent other than 0 (each needs a shift).

    Raises:
        ValueError: if a value is not a multiple of 2^-fraction_bits.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size > 4096:  # quantised weights take few distinct values: decompose each once
        unique, inverse = np.unique(np.abs(values), return_inverse=True)
        terms, shifted = csd_digits(unique, fraction_bits)
        return terms[inverse].reshape(values.shape), shifted[inverse].reshape(values.shape)
    scaled = values * (2.0**fraction_bits)
    n = np.rint(scaled)
    if not np.array_equal(n, scaled):
        raise ValueError(f"values are not dyadic at 2^-{fraction_bits} resolution")
    n = np.abs(n).astype(np.int64)
    terms = np.zeros(n.shape, dtype=np.int64)
    shifted = np.zeros(n.shape, dtype=np.int64)
    position = 0
    # Standard CSD recoding, least significant digit first: an odd n gives digit 2 - (n mod 4) (+1 or -1).
    while np.any(n):
        odd = (n & 1).astype(bool)
        digit = np.where(odd, 2 - (n & 3), 0)
        n = (n - digit) >> 1
        nonzero = digit != 0
        terms += nonzero
        if position != fraction_bits:  # exponent e = position - fraction_bits != 0 needs a shift
            shifted += nonzero
        position += 1
    return terms, shifted


def is_dyadic(values: np.ndarray, fraction_bits: int = MAX_FRACTION_BITS) -> bool:
    """True if every value is an integer multiple of 2^-fraction_bits (and so has a finite CSD form)."""
    scaled = np.asarray(values, dtype=np.float64) * (2.0**fraction_bits)
    return bool(np.all(np.isfinite(scaled)) and np.array_equal(np.rint(scaled), scaled))


def multiply_cost(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adds and shifts to multiply an input by each dyadic value on its own: (terms - 1, shifted terms),
    with 0 for a zero (the tap disappears)."""
    terms, shifted = csd_digits(values)
    return np.maximum(terms - 1, 0), shifted
