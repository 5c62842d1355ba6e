"""The shape of the code itself: short functions, hmmlearn in one package, no test importing another."""

import ast
import io
import tokenize

import pytest

from conftest import ROOT

PACKAGE = ROOT / "trajhmm"
MAX_FUNCTION_LINES = 60


def code_lines(source, node):
    """Lines of ``node`` that hold code: not blank, not only a comment, not its docstring."""
    body = node.body
    skip = set()
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        skip = set(range(body[0].lineno, body[0].end_lineno + 1))
    lines = set()
    text = "\n".join(source.splitlines()[node.lineno - 1 : node.end_lineno])
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                        tokenize.ENDMARKER):
            continue
        for row in range(tok.start[0], tok.end[0] + 1):
            lines.add(row + node.lineno - 1)
    return len(lines - skip)


def long_functions(path):
    source = path.read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = code_lines(source, node)
            if n > MAX_FUNCTION_LINES:
                yield f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {n} lines of code"


def test_the_line_counter_on_a_known_function():
    source = 'def f(x):\n    """Doc\n    string."""\n    # a comment\n\n    y = (x +\n         1)\n    return y\n'
    node = ast.parse(source).body[0]
    assert code_lines(source, node) == 4  # def, the two lines of y = ..., return


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_longer_than_60_lines_of_code(path):
    assert list(long_functions(path)) == []


def test_tests_do_not_import_each_other():
    offenders = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offenders += [f"{path.name} imports {n}" for n in names if n.split(".")[-1].startswith("test_")]
    assert offenders == []
