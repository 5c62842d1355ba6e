"""Regenerate the command-line reference in README.md from trajhmm's argparse parser.

    python scripts/make_cli_reference.py          # rewrite the README section
    python scripts/make_cli_reference.py --check  # exit 1 if the README is out of date

The section lies between the markers ``<!-- cli-reference:start -->`` and
``<!-- cli-reference:end -->``; tests/test_docs.py runs the check.
"""

import argparse
import sys
from pathlib import Path

from trajhmm.cli import build_parser

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub


def _rows(parser):
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.option_strings:
            flag = ", ".join(f"`{o}`" for o in action.option_strings)
            if action.nargs != 0:
                metavar = action.metavar or (f"{{{','.join(map(str, action.choices))}}}" if action.choices
                                             else action.dest.upper())
                flag += f" `{metavar}`" + (" ..." if action.nargs in ("+", "*") else "")
        else:
            flag = f"`{action.metavar or action.dest}`" + (" ..." if action.nargs in ("+", "*") else "")
        text = (action.help or "").replace("|", "\\|")
        if action.required and action.option_strings:
            text = "**required.** " + text
        rows.append(f"| {flag} | {text} |")
    return rows


def _section(parser, path, text=""):
    lines = [f"#### `{' '.join(path)}`", ""]
    if text:
        lines += [text[0].upper() + text[1:] + ".", ""]
    rows = _rows(parser)
    if rows:
        lines += ["| argument | meaning |", "|---|---|", *rows, ""]
    for name, sub_text, sub in _subparsers(parser):
        lines += _section(sub, path + [name], sub_text)
    return lines


def reference():
    parser = build_parser()
    out = ["Generated from the parser by `python scripts/make_cli_reference.py`; "
           "`tests/test_docs.py` fails when it is out of date. The values each flag accepts are "
           "declared once, in `trajhmm/_params.py`.", "", parser.epilog[0].upper() + parser.epilog[1:] + ".", ""]
    out += _section(parser, ["trajhmm"])
    return "\n".join(out).rstrip() + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    text = README.read_text()
    if START not in text or END not in text:
        sys.exit(f"{README}: markers {START} / {END} not found")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = head + START + "\n" + reference() + END + tail
    if args.check:
        if new != text:
            sys.exit(f"{README}: the CLI reference is out of date; run python scripts/make_cli_reference.py")
        print("CLI reference up to date")
        return
    README.write_text(new)
    print(f"CLI reference written to {README}")


if __name__ == "__main__":
    main()
