"""The array namespace the autograd / nn / optim tests run on.

The suite is written once against ``xp``. By default it runs on NumPy and on the
CuPy stand-in (``tests/standin``: CuPy's names, NumPy underneath, no implicit host
transfers), so that a forgotten transfer fails in CI without a GPU. On a GPU machine,
``MINIREC_TEST_XP=cupy pytest tests/autograd tests/nn tests/test_optim.py`` runs the
very same tests on CuPy (it fails, not skips, when CuPy is missing).
"""

from __future__ import annotations

import os

import pytest
from standin import namespace

XP_NAMES = os.environ.get("MINIREC_TEST_XP", "numpy,standin").split(",")


@pytest.fixture(params=XP_NAMES)
def xp(request, monkeypatch):
    return namespace(request.param, monkeypatch)
