"""Packaging tests. The quick ones (autostart, platform check, self-test from the environment,
the frozen entry's ``-m`` dispatch) run in the normal suite. The bundle's own tests
(``test_bundle_*.py``) need ``make dist`` first and take minutes, so they are collected only under
``make dist-check`` (which sets ``MORPHEUS_DIST_CHECK=1``)."""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("MORPHEUS_DIST_CHECK") == "1" else ["test_bundle_*.py"]
