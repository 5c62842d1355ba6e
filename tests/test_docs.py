"""The documentation matches the code: CLI reference, every flag, README commands."""

import argparse
import subprocess
import sys

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
