"""Load untrusted YAML safely, remembering where every value came from.

PyYAML's SafeLoader never builds Python objects from tags; we go one step lower (the
node graph) so that each value keeps its line and column for error messages, and so that
alias expansion can be bounded: a "billion laughs" file is refused after a fixed number of
nodes instead of exhausting memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Mark lives in `problems` (no PyYAML needed to report a position); re-exported here.
from recaudit.rulepack.problems import Mark

__all__ = ["Located", "Mark", "YamlError", "load_yaml"]

MAX_BYTES = 2 * 1024 * 1024
MAX_NODES = 200_000
# Values reached again through an alias (`*name`). Real packs need few; a "billion laughs"
# document needs exponentially many, so it is refused after this many, in milliseconds.
MAX_ALIAS_NODES = 10_000

Path_ = tuple[str | int, ...]


class YamlError(Exception):
    def __init__(self, mark: Mark, message: str) -> None:
        super().__init__(f"{mark}: {message}")
        self.mark = mark
        self.message = message


@dataclass
class Located:
    """A loaded document plus the position of every key/value path inside it."""

    data: Any
    file: str
    positions: dict[Path_, Mark]

    def mark(self, path: Path_) -> Mark:
        """The position of `path`, or of its nearest ancestor that has one."""
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, Mark(self.file, 1, 1))


def _mark(file: str, node: yaml.Node) -> Mark:
    return Mark(file, node.start_mark.line + 1, node.start_mark.column + 1)


_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[Path_, Mark] = {}
        self.count = 0
        self.alias_count = 0
        self.seen: set[int] = set()
        self.open: set[int] = set()  # nodes being built: an alias to one of them is a cycle
        # One SafeLoader constructs scalars: only standard YAML types, never a tag's object.
        self.loader = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlError(_mark(self.file, node), "document too large after alias expansion")
        if id(node) in self.seen:
            self.alias_count += 1
            if self.alias_count > MAX_ALIAS_NODES:
                raise YamlError(
                    _mark(self.file, node),
                    f"too many values reached through aliases (limit {MAX_ALIAS_NODES}); "
                    "refusing a possible alias bomb",
                )
        else:
            self.seen.add(id(node))
        self.positions.setdefault(path, _mark(self.file, node))
        if len(path) > 100:
            raise YamlError(_mark(self.file, node), "nesting deeper than 100 levels")
        if id(node) in self.open:
            raise YamlError(_mark(self.file, node), "an alias refers to a value containing it")
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            self.open.add(id(node))
            try:
                return self._collection(node, path)
            finally:
                self.open.discard(id(node))
        return self._scalar(node)

    def _collection(self, node: yaml.Node, path: Path_) -> Any:
        if node.tag not in _PLAIN_TAGS:
            raise YamlError(_mark(self.file, node), f"YAML tag {node.tag!r} is not allowed")
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node)
                if not isinstance(key, str | int | float | bool) and key is not None:
                    raise YamlError(_mark(self.file, key_node), "mapping keys must be plain values")
                if key in out:
                    raise YamlError(_mark(self.file, key_node), f"duplicate key {key!r}")
                self.positions[(*path, str(key))] = _mark(self.file, key_node)
                out[key] = self.build(value_node, (*path, str(key)))
            return out
        return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]

    def _scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise YamlError(_mark(self.file, node), "expected a plain value here")
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise YamlError(_mark(self.file, node), str(exc.problem)) from None


# libyaml's composer when PyYAML was built with it (about 9x faster: `rules list` and
# every audit load the pack's lexicons); the same nodes and marks either way.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path, label: str | None = None) -> Located:
    label = label or str(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise YamlError(Mark(label, 1, 1), f"file is {size} bytes; the limit is {MAX_BYTES}")
    text = path.read_text(encoding="utf-8-sig")
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark
        where = Mark(label, m.line + 1, m.column + 1) if m else Mark(label, 1, 1)
        raise YamlError(where, f"invalid YAML: {exc.problem}") from None
    if node is None:
        return Located(None, label, {})
    builder = _Builder(label)
    data = builder.build(node, ())
    return Located(data, label, builder.positions)
