"""The array namespace the autograd / nn / optim tests run on.

The suite is written once against ``xp``; CI runs it on NumPy. On a GPU machine,
``MINIREC_TEST_XP=cupy pytest tests/autograd tests/nn tests/test_optim.py`` runs the
very same tests on CuPy (it fails, not skips, when CuPy is missing).
"""

from __future__ import annotations

import os

import pytest

from minirec.backends import get_namespace

XP_NAMES = os.environ.get("MINIREC_TEST_XP", "numpy").split(",")


@pytest.fixture(params=XP_NAMES)
def xp(request):
    return get_namespace(request.param)
