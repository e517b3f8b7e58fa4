"""The benchmark's results file: two runs begun in the same minute both keep theirs."""

from __future__ import annotations

import datetime
from pathlib import Path

from bench.__main__ import result_stamp


def test_a_second_run_in_the_same_minute_gets_the_seconds_in_its_name(tmp_path: Path) -> None:
    began = datetime.datetime(2026, 12, 6, 4, 28, 17)
    assert result_stamp(began, "full", tmp_path) == "2026-12-06_0428"
    assert result_stamp(began, "tiny", tmp_path) == "2026-12-06_0428_tiny"
    (tmp_path / "2026-12-06_0428.json").write_text("{}")
    assert result_stamp(began, "full", tmp_path) == "2026-12-06_042817"
    assert result_stamp(began, "tiny", tmp_path) == "2026-12-06_0428_tiny"  # another mode's name is free
