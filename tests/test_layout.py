"""The house as docs/architecture.md draws it: imports point one way, between apps and
between billing's areas, with no cycle among modules and no module past ~400 lines.

Read from the code's own import statements (those inside functions included), so a
new upward import fails here before anyone reads it."""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "reporting", "billing", "accounts")
# billing's areas by floor, as docs/architecture.md lists them: an area imports only
# areas on lower floors.
FLOORS = {
    "apps": 8, "admin": 8, "portal": 8, "api": 8, "management": 8, "tasks": 8,
    "demo": 7,
    "disputes": 6,
    "purchases": 5,
    "topups": 4, "budgets": 4,
    "alerts": 3, "refunds": 3,
    "webhooks": 2, "usage": 2,
    "ledger": 1, "pricing": 1, "payments": 1, "faults": 1, "templatetags": 1,
    "models": 0, "schedules": 0, "checks": 0,
    "money": -1,
}
MAX_LINES = 400


def modules(app: str):
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" not in path.parts:
            yield ".".join(path.relative_to(ROOT).with_suffix("").parts), path


def imported(path: Path):
    """Every module name an import statement of the file names (levels resolved: the
    project uses absolute imports only)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


ALL = {name: path for app in APPS for name, path in modules(app)}


def project_module(name: str) -> str | None:
    """The project module `name` refers to (a name imported from a package: the package)."""
    while name and name not in ALL and f"{name}.__init__" not in ALL:
        name = name.rpartition(".")[0]
    return name or None


def area(module: str) -> str:
    return module.split(".")[1].removesuffix(".__init__")


def test_apps_import_one_way():
    allowed = {"config": set(APPS), "reporting": {"reporting", "billing", "accounts"},
               "billing": {"billing", "accounts"}, "accounts": {"accounts"}}
    wrong = [f"{name} imports {target}" for name, path in ALL.items()
             for target in imported(path)
             if target.split(".")[0] in APPS
             and target.split(".")[0] not in allowed[name.split(".")[0]]]
    assert not wrong, wrong


def test_every_area_of_billing_has_a_floor():
    areas = {name.split(".")[1] for name in ALL if name.count(".") >= 1
             and name.startswith("billing.") and name != "billing.__init__"}
    assert areas <= set(FLOORS), sorted(areas - set(FLOORS))


def test_billing_areas_import_only_lower_floors():
    wrong = []
    for name, path in ALL.items():
        if not name.startswith("billing.") or name == "billing.__init__":
            continue
        for target in imported(path):
            if not target.startswith("billing."):
                continue
            mine, theirs = area(name), area(target)
            if mine != theirs and FLOORS[mine] <= FLOORS[theirs]:
                wrong.append(f"{name} ({mine}, floor {FLOORS[mine]}) imports {target} "
                             f"({theirs}, floor {FLOORS[theirs]})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_among_modules():
    graph = defaultdict(set)
    for name, path in ALL.items():
        for target in imported(path):
            found = project_module(target)
            if found and found != name and found in ALL:
                graph[name].add(found)
    state, cycles = {}, []

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for node in sorted(ALL):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


@pytest.mark.parametrize("app", APPS)
def test_no_module_past_the_size_a_reader_holds(app):
    long = [f"{path.relative_to(ROOT)}: {lines} lines" for _, path in modules(app)
            if (lines := len(path.read_text().splitlines())) > MAX_LINES]
    assert not long, long
