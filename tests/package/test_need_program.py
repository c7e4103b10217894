"""The programs the tests drive (redis-server, tmux): a missing one skips its tests with a
line saying how to get it, except in CI, where it fails them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import need_program


@pytest.mark.parametrize("program", ["redis-server", "tmux"])
@pytest.mark.parametrize("ci", ["true", "1", "yes", "TRUE"])
def test_a_missing_program_fails_in_ci(
    program: str, ci: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match=f"install {program}.*CI=true"):
        need_program(program, f"install {program}")


@pytest.mark.parametrize("program", ["redis-server", "tmux"])
@pytest.mark.parametrize("ci", [None, "false", ""])
def test_a_missing_program_skips_outside_ci(
    program: str, ci: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match=f"^install {program}$"):
        need_program(program, f"install {program}")


def test_a_program_on_the_path_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    program = tmp_path / "tmux"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    assert need_program("tmux", "install tmux") == str(program)
