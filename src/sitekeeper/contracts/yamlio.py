"""Reading and writing contract files: YAML with a line number for every key, so errors can point at it.

The loader is PyYAML's SafeLoader with YAML 1.2's narrower implicit types. YAML 1.1 reads `NO` (Norway's
country code) as false, `23:00` as the integer 1380 and `0123` as an octal number; in a contract file each
of those is meant as text, so here only true/false are booleans and only plain decimals are numbers.
Dates (`2026-01-01`) stay dates, as the contract file relies on them.

Data is constructed from the composed node tree and the same tree is walked to record, for each JSON path
such as ("clients", 0, "contract", "plan"), the line its key (or list item) starts on.

A contract file is small and shallow, so reading is bounded before anything is built from it: the file's
size (MAX_BYTES), how deep it nests (MAX_DEPTH) and how many values it holds once every alias is expanded
(MAX_VALUES). Anchors and aliases stay allowed (`<<: *defaults` saves repetition), but each alias counts at
its full size, so a "billion laughs" file of nine lines is refused while it is composed, in milliseconds,
instead of being expanded into millions of values; an alias inside the node it names is refused as well.
Numbers longer than MAX_DIGITS digits stay text (Python refuses to convert integers of over 4300 digits,
and no setting is anywhere near 19 digits), so the schema reports them at their key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PathKey = str | int
JsonPath = tuple[PathKey, ...]
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

# The deepest value a valid file has is 7 levels down (clients[0].contract.credit_table[0].below, counting
# the document); the room above that lets a misplaced block still get a schema error at its key.
MAX_DEPTH = 20
# About 12 bytes per value in real files: 1 MiB is some thousand clients, and 100,000 values bound what
# building, indexing and checking the data may cost however the values are written.
MAX_BYTES = 1024 * 1024
MAX_VALUES = 100_000
MAX_DIGITS = 18


class LimitError(Exception):
    """A limit the file goes over, at the path and line where it does."""

    def __init__(self, path: JsonPath, line: int, message: str) -> None:
        super().__init__(message)
        self.path, self.line, self.message = path, line, message


class ContractLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's surprising implicit types (see the module docstring), whose composer
    counts depth and expanded size as it goes and stops at the first node over a limit."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._path: list[PathKey] = []
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values when expanded, height)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        step = _step(index)
        if step is not None:
            self._path.append(step)
        try:
            if self.check_event(yaml.AliasEvent):
                return self._alias(self.peek_event())
            mark = self.peek_event().start_mark
            if len(self._path) + 1 > MAX_DEPTH:
                raise self._refused(
                    mark, f"nested more than {MAX_DEPTH} levels deep; a contract file needs 7"
                )
            node = super().compose_node(parent, index)
            self._sizes[id(node)] = self._measure(node, mark)
            return node
        finally:
            if step is not None:
                self._path.pop()

    def _alias(self, event: yaml.AliasEvent) -> yaml.Node:
        node = self.anchors.get(event.anchor)
        if node is None:  # undefined: PyYAML's own error says so
            return super().compose_node(None, None)
        size = self._sizes.get(id(node))
        if size is None:
            raise self._refused(event.start_mark, f"alias *{event.anchor} is inside the node it names")
        if len(self._path) + size[1] > MAX_DEPTH:
            raise self._refused(
                event.start_mark, f"alias *{event.anchor} nests the file more than {MAX_DEPTH} levels deep"
            )
        self.get_event()
        return node

    def _measure(self, node: yaml.Node, mark: yaml.Mark) -> tuple[int, int]:
        """(values, height) of a node just composed, aliases in it counted at their full size."""
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            return 1, 1
        sizes = [self._sizes[id(child)] for child in children]
        values = 1 + sum(size[0] for size in sizes)
        if values > MAX_VALUES:
            raise self._refused(
                mark,
                f"holds more than {MAX_VALUES:,} values once its aliases are expanded; a contract file "
                "is far smaller (an alias bomb?)",
            )
        return values, 1 + max((size[1] for size in sizes), default=0)

    def _refused(self, mark: yaml.Mark, message: str) -> LimitError:
        return LimitError(tuple(self._path), mark.line + 1, message)


def _step(index: Any) -> PathKey | None:
    """The JSON path step of the node composed at `index` (None for the document and mapping keys)."""
    if isinstance(index, int):
        return index
    if isinstance(index, yaml.ScalarNode):
        return str(index.value)
    return "?" if isinstance(index, yaml.Node) else None


_REPLACED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
ContractLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ContractLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
# Each accepted form is also an int/float to the default resolver, so text that PyYAML's dumper writes
# unquoted never reads back as a number here.
ContractLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(rf"^[-+]?(?:0|[1-9][0-9_]{{0,{MAX_DIGITS - 1}}})$"),
    list("-+0123456789"),
)
ContractLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
        |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.VERBOSE,
    ),
    list("-+0123456789."),
)


def _timestamp_or_text(loader: ContractLoader, node: yaml.ScalarNode) -> Any:
    """A date-shaped scalar that is no real date (2026-02-30) stays text, so the schema reports it at its
    key ("is not a date") instead of the whole file failing to load."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


ContractLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in a contract file, at a JSON path."""

    path: JsonPath
    message: str


class LoadError(Exception):
    """The file could not be read or is not YAML; `errors` are ready-to-print lines."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class Document:
    source: str  # the file name as the user gave it, used in messages
    data: Any
    lines: dict[JsonPath, int] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)  # found while reading (duplicate keys)

    def line_of(self, path: JsonPath) -> int:
        """The line of the nearest enclosing key that exists in the file (1 for the document)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return 1

    def render(self, issue: Issue) -> str:
        return f"{self.source}:{self.line_of(issue.path)}: {format_path(issue.path)}: {issue.message}"

    def render_all(self, issues: list[Issue]) -> list[str]:
        """Each problem once, in file order."""
        unique = sorted(set(issues), key=lambda issue: (self.line_of(issue.path), issue))
        return [self.render(issue) for issue in unique]


def format_path(path: JsonPath) -> str:
    """('clients', 0, 'contract', 'plan') → 'clients[0].contract.plan'."""
    text = ""
    for key in path:
        if isinstance(key, int):
            text += f"[{key}]"
        elif _PLAIN_KEY.match(key):
            text += f".{key}" if text else key
        else:
            text += f"[{key!r}]"
    return text or "(document)"


def load(path: Path) -> Document:
    source = str(path)
    try:
        with path.open("rb") as file:  # read no more than the limit, even from /dev/zero or a pipe
            raw = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise LoadError([f"{source}: cannot read the file: {exc.strerror or exc}"]) from exc
    if len(raw) > MAX_BYTES:
        raise LoadError(
            [f"{source}: the file is larger than {MAX_BYTES:,} bytes, the most a contract file may be"]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError([f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from exc
    return loads(text, source)


def loads(text: str, source: str = "<string>") -> Document:
    loader = ContractLoader(text)
    document = Document(source=source, data=None)
    try:
        node = loader.get_single_node()
        if node is not None:
            data = loader.construct_document(node)
            _Indexer(loader, document).walk(node, ())
            document.data = plain(data)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"{mark.line + 1}:" if mark else ""
        what = ", ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        raise LoadError([f"{source}:{line} invalid YAML: {what}"]) from exc
    except yaml.YAMLError as exc:
        raise LoadError([f"{source}: invalid YAML: {exc}"]) from exc
    except LimitError as exc:
        raise LoadError([f"{source}:{exc.line}: {format_path(exc.path)}: {exc.message}"]) from exc
    finally:
        loader.dispose()
    return document


def plain_key(value: Any) -> str:
    """Mapping keys as JSON has them: text (a date key becomes its ISO form)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value if isinstance(value, str) else str(value)


def plain(value: Any) -> Any:
    """YAML data as JSON data: dates become ISO text, which the schema checks as `format: date`."""
    if isinstance(value, dict):
        return {plain_key(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


@dataclass
class _Indexer:
    """Walks the composed node tree beside the constructed data and records each path's line."""

    loader: ContractLoader
    document: Document

    def walk(self, node: yaml.Node, path: JsonPath) -> None:
        """Recursion is safe: the composer refused anything deeper than MAX_DEPTH, aliases included."""
        if isinstance(node, yaml.SequenceNode):
            for position, item in enumerate(node.value):
                self.document.lines.setdefault((*path, position), item.start_mark.line + 1)
                self.walk(item, (*path, position))
        elif isinstance(node, yaml.MappingNode):
            for key, key_node, value_node in self.entries(node, path):
                self.document.lines[(*path, key)] = key_node.start_mark.line + 1
                self.walk(value_node, (*path, key))

    def entries(self, node: yaml.MappingNode, path: JsonPath) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
        """The mapping's (key, key node, value node), reporting keys written twice in this mapping.

        PyYAML silently keeps the last of two equal keys, which hides typos and copy-paste slips. Keys merged
        in with `<<: *anchor` sit outside this mapping's text and may legitimately be overridden.
        """
        seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = plain_key(self.loader.construct_object(key_node, deep=True))
            first = seen.get(key)
            if first is not None and _inside(first, node) and _inside(key_node, node):
                line = first.start_mark.line + 1
                self.document.issues.append(Issue((*path, key), f"key written twice (first on line {line})"))
            seen[key] = key_node
            yield key, key_node, value_node


def _inside(inner: yaml.Node, outer: yaml.Node) -> bool:
    return outer.start_mark.index <= inner.start_mark.index < outer.end_mark.index


# --- writing ----------------------------------------------------------------------------------------------


class ContractDumper(yaml.SafeDumper):
    """Block mappings, lists of plain values on one line, list items indented under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    scalars = bool(data) and all(not isinstance(item, dict | list) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=scalars)


ContractDumper.add_representer(list, _represent_list)


def dump(data: Any, header: str = "") -> str:
    body = yaml.dump(
        data,
        Dumper=ContractDumper,
        sort_keys=False,  # callers order keys as the documentation does
        allow_unicode=True,
        default_flow_style=False,
        width=110,
    )
    return header + body
