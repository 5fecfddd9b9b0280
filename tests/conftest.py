"""Shared fixtures: the embedded MNIST digits and the three tasks built on them (loaded once)."""

from __future__ import annotations

import pytest

import ewc_helpers  # noqa: F401  (quiets TensorFlow's start-up notices before anything imports it)
from ewc_helpers import load_mnist, make_tasks


@pytest.fixture(scope="session")
def embedded_mnist():
    """The 5,000 embedded digits (4,000 train / 1,000 test). Treat as read-only."""
    return load_mnist("embedded", verbose=False)


@pytest.fixture(scope="session")
def tasks(embedded_mnist):
    """``{"A", "B", "multi"}`` tasks on the embedded digits, seed 0. Treat as read-only."""
    return make_tasks(embedded_mnist)
