"""The documentation matches the code: CLI reference, every flag, README commands."""

import argparse
import subprocess
import sys

import pytest

from trajhmm.cli import build_parser

from conftest import ROOT


def _all_parsers(parser, path=("trajhmm",)):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_parsers(sub, path + (name,))


def test_cli_reference_in_readme_is_generated_from_the_parser():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_cli_reference.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_every_flag_of_every_command_is_documented():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- cli-reference:start -->")[1].split("<!-- cli-reference:end -->")[0]
    for path, parser in _all_parsers(build_parser()):
        heading = f"#### `{' '.join(path)}`"
        assert heading in section, heading
        body = section.split(heading, 1)[1].split("#### ", 1)[0]
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            for opt in action.option_strings or [action.metavar or action.dest]:
                assert f"`{opt}`" in body, (path, opt)
            assert action.help, (path, action.dest)  # every argument explains itself


def test_every_script_answers_help(monkeypatch, capsys):
    """Every script the README points to parses its arguments: ``--help`` prints its usage
    and exits 0 (no script reads sys.argv by hand, which took ``--help`` for a data set)."""
    import runpy

    scripts = [p for p in sorted((ROOT / "scripts").glob("*.py")) if not p.name.startswith("_")]  # _: helpers
    assert len(scripts) >= 10
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    for script in scripts:
        monkeypatch.setattr(sys, "argv", [str(script), "--help"])
        with pytest.raises(SystemExit) as exc:
            runpy.run_path(str(script), run_name="__main__")
        out = capsys.readouterr().out
        assert exc.value.code in (0, None) and "usage:" in out, script.name
