"""House rules of the package itself: the shared code asks the Task instead of branching on families, and
modules stay short. Read with ast, so docstrings and comments are free to name what they like."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ganzoo"
# where what differs between families is defined: the tasks, and the config definitions (is_conditional)
ALLOWED = {"tasks.py", "config.py"}
KIND_LITERALS = {"image", "points", "unpaired", "paired"}  # data kinds
TASK_LITERALS = {"sample", "translate"}  # built-in task names
NETWORK_LITERALS = {"G_AB", "G_BA"}  # a translator's generators
MAX_LINES = 400
MAX_TRAINER_LINES = 300


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _names(node: ast.AST) -> set[str]:
    """Attribute and variable names read anywhere inside ``node``."""
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            found.add(sub.attr)
        elif isinstance(sub, ast.Name):
            found.add(sub.id)
    return found


def _literals(node: ast.AST) -> set[str]:
    return {sub.value for sub in ast.walk(node) if isinstance(sub, ast.Constant) and isinstance(sub.value, str)}


def family_branches(source: str) -> list[tuple[int, str]]:
    """(line, why) for every test of a task name, data-kind literal, class count or translator network name."""
    tree, found = ast.parse(source), []
    for node in ast.walk(tree):
        tests = []
        if isinstance(node, ast.Compare):
            tests.append(node)
        elif isinstance(node, (ast.If, ast.IfExp, ast.While, ast.Assert)):
            tests.append(node.test)
        elif isinstance(node, ast.comprehension):
            tests.extend(node.ifs)
        for test in tests:
            literals, names = _literals(test), _names(test)
            if isinstance(test, ast.Compare) and literals & (KIND_LITERALS | TASK_LITERALS):
                found.append((test.lineno, f"compares with {sorted(literals & (KIND_LITERALS | TASK_LITERALS))}"))
            elif names & {"num_classes"}:
                found.append((test.lineno, "tests num_classes"))
        if isinstance(node, ast.Constant) and node.value in NETWORK_LITERALS:
            found.append((node.lineno, f"names network {node.value!r}"))
    return sorted(set(found))


def test_the_rule_finds_the_branches_it_forbids():
    bad = """
if model.variant.task != "sample": pass
n = 64 if kind != "points" else 2500
if model.num_classes: pass
labels = [y for y in ys if cfg.num_classes > 0]
nets = {"a2b": "G_AB"}
"""
    assert [line for line, _ in family_branches(bad)] == [2, 3, 4, 5, 6]
    fine = '''
"""The task says "points" or "G_AB" here, in a docstring."""
if model.task.conditional: pass  # num_classes, "sample": comments are free
x = task.num_classes
'''
    assert family_branches(fine) == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_shared_code_asks_the_task_instead_of_branching_on_families(path):
    if path.name in ALLOWED and path.parent == PACKAGE:
        return
    found = family_branches(path.read_text())
    assert not found, f"{path.relative_to(PACKAGE.parent)}: " + "; ".join(f"line {n} {why}" for n, why in found)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_short(path):
    lines = len(path.read_text().splitlines())
    limit = MAX_TRAINER_LINES if path == PACKAGE / "engine" / "trainer.py" else MAX_LINES
    assert lines <= limit, f"{path.relative_to(PACKAGE.parent)} has {lines} lines (at most {limit}): split it by job"
