"""The architecture, checked from the source (docs/architecture.md, "Layers and seams").

- Import contracts (.importlinter, run through import-linter): core imports nothing of Django or of the rest
  of sitekeeper; the apps never import the pages (web) or the API (api); each floor imports only the floors
  below it, apart from the upward imports listed there by name.
- No import cycles: the graph of every module, lazy imports inside functions included (grimp reads them all),
  has no strongly connected component of more than one module. Each one found is named with one of its
  cycles, file and line of every import on it.
- The seams: a request the platform detected (the monitor channel) is opened only through desk/detected.py
  (the demo's seeds replay history and file such requests as they were); the lease logic of background jobs
  (the owner id, whether an owner is alive, a lease set to "now + a duration") is written only in
  sitekeeper/jobs.py. Each check also finds its pattern in the seam itself, so it cannot pass by matching
  nothing.

None of this touches the database: it reads the source, so it runs once (not once per database).
"""

from __future__ import annotations

import ast
import functools
import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.application import use_cases

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = "sitekeeper"
CONFIG = ROOT / ".importlinter"

# The project's wiring above every floor: the pages, the API and what starts and configures the process.
WIRING = frozenset({"web", "api", "urls", "settings", "wsgi", "cli", "__main__"})
# What core may import besides the standard library: pure libraries without Django.
CORE_MAY_IMPORT = frozenset({"holidays"})

INCIDENT_SEAM = "sitekeeper/desk/detected.py"
JOB_SEAM = "sitekeeper/jobs.py"
DEMO = "sitekeeper/demo/"


def _contracts() -> dict[str, dict]:
    return {options["id"]: options for options in read_configuration(str(CONFIG))["contracts_options"]}


# -- import contracts ------------------------------------------------------------------------------------
@pytest.mark.parametrize("contract", sorted(_contracts()))
def test_import_contract_is_kept(contract: str, capsys: pytest.CaptureFixture[str]) -> None:
    kept = use_cases.lint_imports(
        config_filename=str(CONFIG), limit_to_contracts=(contract,), cache_dir=None, no_logo=True
    )
    report = capsys.readouterr().out
    assert kept, f"import contract {contract!r} is broken:\n{report}"


def _top_level_modules() -> set[str]:
    found = set()
    for path in (SRC / PACKAGE).iterdir():
        if path.is_dir() and (path / "__init__.py").exists():
            found.add(path.name)
        elif path.suffix == ".py" and path.name != "__init__.py":
            found.add(path.stem)
    return found


def test_every_top_level_module_stands_on_a_floor() -> None:
    """A new app must be named in .importlinter, or the contracts would not look at it."""
    contracts = _contracts()
    apps = {
        name.removeprefix(f"{PACKAGE}.") for name in contracts["apps-below-pages-and-api"]["source_modules"]
    }
    floors = {
        name.strip().removeprefix(f"{PACKAGE}.")
        for layer in contracts["floors"]["layers"]
        for name in layer.replace("|", ":").split(":")
    }
    top = _top_level_modules()
    assert top - apps - WIRING == set(), "not on any floor of .importlinter (apps-below-pages-and-api)"
    assert (apps | {"web", "api"}) - floors == set(), "missing from the floors contract's layers"


def test_core_imports_only_the_standard_library_and_pure_libraries() -> None:
    graph = grimp.build_graph(PACKAGE, include_external_packages=True, cache_dir=None)
    outside = sorted(
        f"{module} imports {imported}"
        for module in graph.find_descendants(f"{PACKAGE}.core") | {f"{PACKAGE}.core"}
        for imported in graph.find_modules_directly_imported_by(module)
        if not imported.startswith(f"{PACKAGE}.core")
        and imported.split(".")[0] not in sys.stdlib_module_names | CORE_MAY_IMPORT
    )
    assert outside == []


# -- no cycles -------------------------------------------------------------------------------------------
def _strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the import chains are deep enough to matter for recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.find_modules_directly_imported_by(successor)))))
                    break
                if successor in on_stack:
                    low[module] = min(low[module], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[module])
                if low[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    components.append(sorted(component))
    return components


def _one_cycle(graph: grimp.ImportGraph, component: list[str]) -> str:
    """One cycle through the component's first module, with the import lines: 'a (l.12) -> b (l.3) -> a'."""
    start = component[0]
    members = set(component)
    successor = min(m for m in graph.find_modules_directly_imported_by(start) if m in members)
    # Every module on a shortest chain back to `start` lies in the component (it reaches start and is
    # reached from it).
    chain = (start, *graph.find_shortest_chain(importer=successor, imported=start))
    steps = []
    for importer, imported in itertools.pairwise(chain):
        details = graph.get_import_details(importer=importer, imported=imported)
        lines = sorted({detail["line_number"] for detail in details})
        steps.append(f"{importer} (l.{', '.join(map(str, lines))})")
    return " -> ".join([*steps, start])


def test_no_import_cycles() -> None:
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    circles = [component for component in _strongly_connected(graph) if len(component) > 1]
    described = [
        f"{len(component)} modules: {', '.join(component)}\n    e.g. {_one_cycle(graph, component)}"
        for component in circles
    ]
    assert circles == [], "import cycles:\n" + "\n".join(described)


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The finder on a graph with a known circle and a tail (so an empty answer above means something)."""
    graph = grimp.ImportGraph()
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents="import")
    assert [c for c in _strongly_connected(graph) if len(c) > 1] == [["p.a", "p.b", "p.c"]]
    assert _one_cycle(graph, ["p.a", "p.b", "p.c"]) == "p.a (l.1) -> p.b (l.1) -> p.c (l.1) -> p.a"


# -- the seams' callers ----------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Found:
    path: str  # relative to src/, e.g. sitekeeper/desk/detected.py
    line: int
    what: str

    def __str__(self) -> str:
        return f"src/{self.path}:{self.line}: {self.what}"


@functools.cache
def _sources() -> tuple[tuple[str, ast.Module], ...]:
    return tuple(
        (path.relative_to(SRC).as_posix(), ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for path in sorted((SRC / PACKAGE).rglob("*.py"))
    )


def _monitor_channel(value: ast.expr | None) -> bool | None:
    """True: the monitor channel; False: another one; None: the source does not say (an expression)."""
    if isinstance(value, ast.Constant):
        return value.value == "monitor"
    if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "Channel":
        return value.attr == "MONITOR"
    return None


def _called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _file_request_names(tree: ast.Module) -> set[str]:
    """Names a module calls desk.services.file_request by (`from … import file_request as …`)."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name == "file_request"
    }


CREATING = frozenset({"create", "get_or_create", "update_or_create"})


def monitor_filings() -> Iterator[Found]:
    """Every call that opens a request on the monitor channel: desk.services.file_request(channel=monitor),
    or a row created with channel=monitor directly; a channel the source cannot tell counts too."""
    for path, tree in _sources():
        aliases = _file_request_names(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            keywords = {k.arg: k.value for k in node.keywords}
            if name == "file_request" or name in aliases:
                if "channel" not in keywords and None not in keywords:
                    continue  # no channel at all: not a monitor filing (and a TypeError at run time)
                channel = _monitor_channel(keywords.get("channel"))
            elif name in CREATING and "channel" in keywords:
                channel = _monitor_channel(keywords["channel"])
                if channel is None:
                    continue  # another model's channel (a notification's, say): only a literal is ours
            else:
                continue
            if channel is not False:
                told = "channel monitor" if channel else "a channel the source does not name"
                yield Found(path, node.lineno, f"{name}(…) with {told}")


def test_a_detected_request_is_opened_only_through_the_incident_seam() -> None:
    found = sorted(monitor_filings())
    assert any(f.path == INCIDENT_SEAM for f in found), "the seam itself no longer found: the check is stale"
    outside = [str(f) for f in found if f.path != INCIDENT_SEAM and not f.path.startswith(DEMO)]
    assert outside == [], "open these through sitekeeper.desk.detected.open_incident:\n" + "\n".join(outside)


def _adds(value: ast.expr) -> bool:
    return isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)


def _is_call_of(value: ast.expr, name: str) -> bool:
    return isinstance(value, ast.Call) and _called_name(value) == name


def _owner_id_text(node: ast.JoinedStr) -> bool:
    """f"{socket.gethostname()}:{os.getpid()}": jobs.owner_id's value, written out again."""
    parts = [v.value if isinstance(v, ast.FormattedValue) else v for v in node.values]
    return (
        len(parts) == 3
        and _is_call_of(parts[0], "gethostname")
        and isinstance(parts[1], ast.Constant)
        and parts[1].value == ":"
        and _is_call_of(parts[2], "getpid")
    )


OWNER_FUNCTIONS = frozenset({"owner_id", "owner_alive"})


def lease_logic() -> Iterator[Found]:
    """Every place that holds a job by hand: defines owner_id/owner_alive, builds an owner id, sets a lease to
    'something + a duration' (a keyword of a call such as .update(), a dict entry, or an attribute), or
    claims a row by the owner kept in its progress (how restore tests were claimed before the seam)."""
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in {
                "owner_id",
                "owner_alive",
            }:
                yield Found(path, node.lineno, f"defines {node.name}()")
            elif isinstance(node, ast.JoinedStr) and _owner_id_text(node):
                yield Found(path, node.lineno, "builds an owner id (host:pid)")
            elif isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "lease_until" and _adds(keyword.value):
                        yield Found(path, keyword.lineno, "lease_until=… + … in a call")
                    elif keyword.arg == "progress__owner":
                        yield Found(path, keyword.lineno, "claims by an owner kept in progress")
            elif isinstance(node, ast.Dict):
                yield from (
                    Found(path, value.lineno, '"lease_until": … + … in a dict')
                    for key, value in zip(node.keys, node.values, strict=True)
                    if isinstance(key, ast.Constant) and key.value == "lease_until" and _adds(value)
                )
            elif isinstance(node, ast.Assign):
                yield from (
                    Found(path, node.lineno, ".lease_until = … + …")
                    for target, value in _assigned(node)
                    if isinstance(target, ast.Attribute) and target.attr == "lease_until" and _adds(value)
                )


def _assigned(node: ast.Assign) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(target, value) pairs, tuples unpacked pairwise (`row.owner, row.lease_until = me, now + lease`)."""
    for target in node.targets:
        if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
            yield from zip(target.elts, node.value.elts, strict=False)
        else:
            yield target, node.value


def test_the_lease_logic_exists_only_in_the_job_seam() -> None:
    found = sorted(lease_logic())
    at_seam = {f.what for f in found if f.path == JOB_SEAM}
    assert {f"defines {name}()" for name in OWNER_FUNCTIONS} <= at_seam, "the check no longer sees the seam"
    assert any("lease_until" in what for what in at_seam), "the check no longer sees the seam's lease"
    outside = [str(f) for f in found if f.path != JOB_SEAM]
    assert outside == [], "claim, heartbeat and take over jobs through sitekeeper.jobs:\n" + "\n".join(
        outside
    )
