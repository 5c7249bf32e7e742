"""The command line's contract: help, exit codes, error format."""

from __future__ import annotations

import subprocess
import sys

from conftest import MMGENRE


def test_help_ends_with_an_example(cli):
    result = cli("--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout and "mmgenre train paper-offline" in result.stdout


def test_usage_errors_exit_2(cli):
    assert cli("list", "nonsense").exit_code == 2
    assert cli("train").exit_code == 2  # --data is required
    assert cli("no-such-command").exit_code == 2


def test_user_errors_exit_1_with_error_prefix(cli, tmp_path):
    result = cli("features", "paper-offline", "--data", str(tmp_path / "missing"))
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("Error: dataset folder")
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mmgenre", "--debug", "recipe", "validate", "nope"], capture_output=True, text=True
    )
    assert result.returncode == 1 and "Traceback" in result.stderr and "RecipeError" in result.stderr


def test_console_script_is_installed():
    result = subprocess.run([MMGENRE, "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("mmgenre, version")
