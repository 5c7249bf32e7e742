"""What a plugin author meets first: `plugin new` run again in its own folder, the checks run from a script,
`--mmgenre-plugin` given the package's name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from conftest import run_cli


def test_plugin_new_writes_its_own_unchanged_folder_again_but_never_over_edits(tmp_path):
    folder = tmp_path / "mmgenre-kit-loss"
    assert run_cli("plugin", "new", "loss", "kit-loss", folder).exit_code == 0
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    (folder / "mmgenre_kit_loss" / "component.py").unlink()  # as if the first run had been interrupted
    again = run_cli("plugin", "new", "loss", "kit-loss", folder)
    assert again.exit_code == 0, again.stderr
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    readme = folder / "README.md"
    readme.write_text(readme.read_text() + "\nmy notes\n")
    edited = run_cli("plugin", "new", "loss", "kit-loss", folder)
    assert edited.exit_code == 1
    assert "whose files differ from this one's (README.md: edited" in edited.stderr
    assert readme.read_text().endswith("my notes\n")
    other = run_cli("plugin", "new", "loss", "other-loss", folder)
    assert other.exit_code == 1 and "README.md" in other.stderr and "pyproject.toml" in other.stderr


SCRIPT = """
import json
from mmgenre.testing import check_component
from mmgenre_losses.components import BinaryCrossEntropy as BCELoss

{call}
"""


def run_script(tmp_path: Path, call: str) -> subprocess.CompletedProcess:
    script = tmp_path / "check_it.py"
    script.write_text(textwrap.dedent(SCRIPT.format(call=call)))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, script], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


@pytest.mark.slow
def test_checks_from_a_script_without_a_main_guard_skip_the_worker_checks_with_the_fix(tmp_path):
    result = run_script(tmp_path, "print(json.dumps(check_component(BCELoss)))")
    assert result.returncode == 0, result.stderr
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcomes["pickles_to_another_process"].startswith("skipped: this check runs the component in a worker")
    assert 'under `if __name__ == "__main__":` in that script' in outcomes["pickles_to_another_process"]
    assert outcomes["finite_scalar_with_a_gradient"] == "passed"
    assert "bootstrapping" not in result.stderr


@pytest.mark.slow
def test_checks_from_a_script_with_a_main_guard_run_in_a_worker(tmp_path):
    result = run_script(tmp_path, 'if __name__ == "__main__":\n    print(json.dumps(check_component(BCELoss)))')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["pickles_to_another_process"] == "passed"


@pytest.mark.parametrize("name", ["mmgenre_losses", "Mmgenre.Losses", "mmgenre"])
def test_mmgenre_plugin_option_takes_the_import_package_or_the_distribution(tmp_path, name):
    (tmp_path / "test_it.py").write_text("def test_conformance(mmgenre_check):\n    mmgenre_check()\n")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        "--mmgenre-plugin",
        name,
    ]
    result = subprocess.run(
        [*command, "test_it.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_it.py::test_conformance[loss:bce:finite_scalar_with_a_gradient]" in result.stdout
    assert ("test_conformance[fusion:concat:" in result.stdout) is (name == "mmgenre")  # a distribution: all of it


@pytest.mark.slow
def test_the_documented_build_command_builds_a_generated_plugin(tmp_path):
    folder = tmp_path / "mmgenre-kit-head"
    assert run_cli("plugin", "new", "fusion", "kit-head", folder).exit_code == 0
    build = [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", tmp_path / "dist", folder]
    result = subprocess.run(build, capture_output=True, text=True, timeout=300)  # no isolation: works offline
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = (tmp_path / "dist").glob("mmgenre_kit_head-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
        assert "[mmgenre]\nkit-head = mmgenre_kit_head" in archive.read(entry_points).decode()
