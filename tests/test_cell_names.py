"""A bad cell of a file with a header is named by its column's name too (a motion-capture
trial: "line 555, column 30" of 47 columns; the table reader already named it)."""

import pytest

from trajhmm import read_trajectory
from trajhmm.exceptions import DataError


def test_a_bad_cell_is_named_by_line_column_and_header_name(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("Frame,LASI_X,LASI_Y,RTOE_X\n1,2,3,4\n2,5,,7\n")
    with pytest.raises(DataError, match=r"a\.csv: line 3, column 3 \('LASI_Y'\): expected a finite number, got an empty "
                                        r"cell"):
        read_trajectory(p)
    q = tmp_path / "b.csv"
    q.write_text("1,2,3\n4,x,6\n")  # no header: numbers alone
    with pytest.raises(DataError, match=r"b\.csv: line 2, column 2: expected a number, got 'x'$"):
        read_trajectory(q)
