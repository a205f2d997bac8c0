"""The one error type for users' mistakes, shared by ``hwmodels`` and ``estimator``.

A :class:`UserError` is a mistake in what a user gave: a file, an option, a model, a dataset, a configuration that
cannot run. Its message is one line that names the thing and what was expected. The command line recognises it by
type (in worker processes too: it pickles with its message) and prints it with exit code 2; any other exception is
a bug, reported as an internal error. Every domain error (a hardware file, a layer table, a sweep file, a store, a
dataset, a model reference, a variant name) subclasses it, so callers can catch one type or the precise one.
"""

from __future__ import annotations


class UserError(ValueError):
    """A mistake in the user's input; the message is one line naming the thing and what was expected."""


class MissingExtraError(UserError, ImportError):
    """An optional dependency (an extra such as ``zigzag``) that is not installed; the message says how to install
    it."""
