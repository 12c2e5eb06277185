"""`morpheus devnet ...` commands."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("devnet", help="(devnet: not implemented yet)")
    p.set_defaults(handler=lambda args: 0)
