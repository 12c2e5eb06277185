"""Suite-wide setup: every test run gets its own MORPHEUS_HOME and an offscreen Qt platform, so
tests never touch the developer's real wallet, settings or logs."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
if "MORPHEUS_HOME" not in os.environ:
    os.environ["MORPHEUS_HOME"] = tempfile.mkdtemp(prefix="morpheus-test-home-")
