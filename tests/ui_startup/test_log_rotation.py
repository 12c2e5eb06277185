"""The log file never grows past its size: past 5 MB (here a few hundred bytes) it moves to
``.1`` and older ones shift, three kept, so a long-running window cannot fill the disk. (The
start-up writes it with its own small handler: ``logging.handlers`` costs ~8 ms of every start.)"""

from __future__ import annotations

import logging

from app.logsetup import RedactingFormatter, RotatingFile


def test_log_file_rotates_and_keeps_three_old_ones(tmp_path):
    path = tmp_path / "morpheus.log"
    handler = RotatingFile(path, max_bytes=300, backups=3)
    handler.setFormatter(RedactingFormatter("%(message)s"))
    log = logging.getLogger("test.rotation")
    log.propagate = False
    log.addHandler(handler)
    try:
        for i in range(60):
            log.warning("line %02d password=hunter2-%02d %s", i, i, "x" * 40)
    finally:
        log.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["morpheus.log", "morpheus.log.1", "morpheus.log.2", "morpheus.log.3"]
    assert all(p.stat().st_size <= 300 for p in tmp_path.iterdir())
    newest = path.read_text().splitlines()
    assert newest[-1].startswith("line 59 ")  # the latest line is in the current file
    older = (tmp_path / "morpheus.log.1").read_text().splitlines()
    assert int(older[-1].split()[1]) == int(newest[0].split()[1]) - 1  # nothing lost between
    text = "".join(p.read_text() for p in tmp_path.iterdir())
    assert "hunter2" not in text  # still scrubbed
