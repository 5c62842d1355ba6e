"""The CLI's text output: one line per answer whatever the names hold, aligned tables,
help texts that state each default once."""

import numpy as np
import pytest

from trajhmm import HMMClassifier, save_model
from trajhmm.cli import _confusion_table, build_parser

from conftest import FAST, cli


def test_a_tab_or_newline_in_a_name_keeps_one_line_of_three_fields(tmp_path, dataset, capsys):
    X, y = dataset
    labels = np.where(y == "wave", "wa\tve", y)  # a label with a tab in it
    model = tmp_path / "m.npz"
    save_model(HMMClassifier(**FAST).fit(X, labels), model)
    odd = tmp_path / "new\nfile\t1.csv"
    np.savetxt(odd, X[list(y).index("wave")], delimiter=",")
    code, out, err = cli(["predict", model, odd], capsys)
    assert code == 0, err
    assert out.count("\n") == 1
    fields = out.rstrip("\n").split("\t")
    assert fields[:2] == [str(odd).replace("\n", "\\n").replace("\t", "\\t"), "wa\\tve"]
    assert len(fields) == 3
    code, out, _ = cli(["predict", model, odd, "--format", "json"], capsys)
    assert '"label": "wa\\tve"' in out  # JSON keeps the name (its own escape)


@pytest.mark.parametrize("labels", [["a", "b"], ["a_rather_long_label", "b"]])
def test_the_confusion_table_is_aligned(labels):
    lines = _confusion_table(labels, np.array([[3, 0], [1, 12]])).splitlines()
    assert len({len(line) for line in lines}) == 1
    ends = [[i + 1 for i, (c, d) in enumerate(zip(line, line[1:] + " ")) if c != " " and d == " "] for line in lines]
    assert ends[0][-2:] == ends[1][-2:] == ends[2][-2:]  # the columns end where their headers end


def test_no_help_text_states_its_default_twice():
    parser = build_parser()
    actions = parser._subparsers._group_actions[0].choices
    for name, sub in actions.items():
        text = sub.format_help()
        for block in text.split("\n  -"):
            assert block.count("(default:") <= 1, (name, block)
