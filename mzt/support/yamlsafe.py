"""A YAML reader for untrusted text: plain data only, every problem located.

It builds nothing but strings, numbers, booleans, nulls, lists and mappings. It refuses
anchors and aliases (so alias bombs cannot blow up later copies), duplicate keys
(which plain YAML silently collapses), unknown tags (such as ``!!python/object``),
documents nested deeper than `MAX_DEPTH`, non-UTF-8 text and integers too long
for Python. Dates stay strings, so every value can be written back as JSON.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Protocol

import yaml
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mzt.support import records
from mzt.support.errors import Issue

MAX_DEPTH = 64
_Y = "tag:yaml.org,2002:"
_PLAIN_TAGS = frozenset(_Y + t for t in ("str", "int", "float", "bool", "null", "seq", "map"))

Location = tuple[int, int]
"""1-based line and column."""
DataPath = tuple[str | int, ...]


class YamlProblem(Exception):
    """The text is not acceptable YAML data; carries a 1-based position when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@records.record(frozen=True, slots=True)
class Document:
    """Parsed data plus where each mapping key and list item sits in the text."""

    data: Any
    locations: dict[DataPath, Location]

    def locate(self, path: DataPath) -> Location | None:
        """Position of the deepest part of ``path`` that exists in the text."""
        for end in range(len(path), -1, -1):
            found = self.locations.get(path[:end])
            if found is not None:
                return found
        return None

    def schema_issue(self, path: DataPath, message: str, hint: str | None) -> Issue:
        """A schema problem of the value at ``path``, placed where the text has it."""
        where = self.locate(path)
        return Issue(
            "SCHEMA",
            message,
            path=".".join(str(p) for p in path),
            line=where[0] if where else None,
            column=where[1] if where else None,
            hint=hint,
        )


class _Mark(Protocol):
    """A position in the text: the pure-Python and the libyaml readers have different classes."""

    line: int
    column: int


def _position(mark: _Mark | None) -> dict[str, int | None]:
    if mark is None:
        return {"line": None, "column": None}
    return {"line": mark.line + 1, "column": mark.column + 1}


class _PlainData(yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """What both readers build: plain values, no dates, no integers too long to hold."""

    # PyYAML reads this table from the class; types-PyYAML declares it on instances.
    yaml_implicit_resolvers: ClassVar[dict[Any, list[Any]]] = {  # type: ignore[misc]
        first: [(tag, rx) for tag, rx in resolvers if tag != _Y + "timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_yaml_int(self, node: ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            raise YamlProblem(
                f"the integer {node.value[:20]}… is too long ({len(node.value)} digits)",
                **_position(node.start_mark),
            ) from None

    def construct_yaml_str(self, node: ScalarNode) -> str:
        value = super().construct_yaml_str(node)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # "\ud800" escapes make strings that no file, terminal or JSON can hold.
            raise YamlProblem(
                "the text contains a lone surrogate escape (such as \\ud800), "
                "which is not a character",
                **_position(node.start_mark),
            ) from None
        return value


_PlainData.add_constructor(_Y + "int", _PlainData.construct_yaml_int)  # type: ignore[type-var]
_PlainData.add_constructor(_Y + "str", _PlainData.construct_yaml_str)  # type: ignore[type-var]


class _Loader(
    yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, _PlainData
):
    """The reference reader: SafeLoader minus anchors, aliases, exotic tags, dates and
    runaway depth, each refused with its position as the text is read."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        # types-PyYAML leaves Parser.peek_event unannotated although it returns an Event.
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            raise YamlProblem(
                "aliases (*name) are not allowed in scores; write the value out",
                **_position(event.start_mark),
            )
        if isinstance(event, ScalarEvent | CollectionStartEvent) and event.anchor is not None:
            raise YamlProblem(
                f"anchors (&{event.anchor}) are not allowed in scores; write values out",
                **_position(event.start_mark),
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YamlProblem(
                f"the document is nested more than {MAX_DEPTH} levels deep",
                **_position(event.start_mark),
            )
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None and node.tag == _Y + "merge":
            raise YamlProblem(
                "merge keys (<<) are not allowed in scores; write the keys out",
                **_position(node.start_mark),
            )
        if node is not None and node.tag not in _PLAIN_TAGS:
            tag = node.tag.replace(_Y, "!!")
            raise YamlProblem(
                f"the tag {tag} is not allowed: a score holds plain data only "
                "(text, numbers, booleans, lists, mappings)",
                **_position(node.start_mark),
            )
        return node


_CParser: Any
try:
    from yaml._yaml import CParser as _CParser
except ImportError:  # PyYAML built without libyaml
    _CParser = None


class _NotPlain(Exception):
    """The fast reader met something to refuse: the reference reader says what."""


if _CParser is not None:

    class _FastLoader(_CParser, _PlainData):  # type: ignore[misc]
        """libyaml's parser with the same constructors: about twenty times faster."""

        def __init__(self, stream: str) -> None:
            _CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)


def decode(raw: bytes) -> str:
    """Strict UTF-8 (a leading BOM is dropped); errors name the line and column."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        hint = ""
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            hint = " (it looks like UTF-16)"
        raise YamlProblem(
            f"the file is not UTF-8{hint}: byte {exc.start} (0x{raw[exc.start]:02x}) "
            "cannot be decoded; save it as UTF-8",
            line,
            column,
        ) from None
    return text.removeprefix("\ufeff")


def parse(text: str) -> Document:
    """Parse one YAML document of plain data, recording key and item positions.

    Clean text is read by libyaml where PyYAML has it; anything to refuse, and every
    text without libyaml, goes through the reference reader, so each problem is told
    in the same words at the same place whichever reader met it first.
    """
    if _CParser is not None:
        try:
            return _parse_fast(text)
        except _NotPlain:
            pass
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise _reader_problem(text, exc) from None
    try:
        root = loader.get_single_node()
        locations: dict[DataPath, Location] = {}
        if root is not None:
            _index(loader, root, locations)
        data = loader.construct_document(root) if root is not None else None
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and "quoted scalar" in (exc.context or ""):
            # An unclosed quote is found at the end of the file; where it opens is what helps.
            mark = exc.context_mark
        what = ", ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise YamlProblem(f"YAML syntax error: {what}", **_position(mark)) from None
    except yaml.reader.ReaderError as exc:
        raise _reader_problem(text, exc) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"YAML error: {exc}") from None
    finally:
        loader.dispose()
    return Document(data, locations)


# Characters the two readers treat differently (a tab inside plain text, byte-order
# marks and Unicode line breaks inside the document): text with any of them is read by
# the reference reader alone.
_READERS_DISAGREE = re.compile("[\t\x85\u2028\u2029\ufeff]")


def _parse_fast(text: str) -> Document:
    if _READERS_DISAGREE.search(text) or yaml.reader.Reader.NON_PRINTABLE.search(text):
        raise _NotPlain
    _check_events(text)
    loader = _FastLoader(text)
    try:
        try:
            root = loader.get_single_node()
            locations: dict[DataPath, Location] = {}
            if root is not None:
                _index(loader, root, locations, plain_tags_only=True)
        except (yaml.YAMLError, YamlProblem):
            # The reference reader refuses some things while composing, before the keys
            # are looked at: let it find the first problem, as it would alone.
            raise _NotPlain from None
        data = loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()
    return Document(data, locations)


_BLOCK_HEADER = re.compile(r"[|>](?:[1-9][+-]?|[+-][1-9]?)?(?: +#.*| *)")


def _check_events(text: str) -> None:
    """Refuse, in libyaml's event stream, what the fast reader leaves to the reference one.

    That is anchors, aliases, runaway depth and explicit tags (refused or resolved
    differently by the two), and the spots where libyaml is more lenient than PyYAML: a
    block scalar header followed by anything but a comment, and ``?``, ``:`` or ``#``
    inside plain text in a flow collection.
    """
    loader = _CParser(text)
    try:
        depth = flow = 0
        while (event := loader.get_event()) is not None:
            if isinstance(event, AliasEvent):
                raise _NotPlain
            if isinstance(event, ScalarEvent | CollectionStartEvent) and (
                event.anchor is not None or event.tag is not None or depth + 1 > MAX_DEPTH
            ):
                raise _NotPlain
            if isinstance(event, CollectionStartEvent):
                depth += 1
                flow += bool(event.flow_style)
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
                flow -= flow > 0 and _flow_end(text, event)
            elif isinstance(event, ScalarEvent):
                if event.style in ("|", ">"):
                    start = _offset(event)
                    end = text.find("\n", start)
                    if not _BLOCK_HEADER.fullmatch(text, start, end if end >= 0 else len(text)):
                        raise _NotPlain
                elif flow and not event.style and any(c in event.value for c in "?:#"):
                    raise _NotPlain
    except yaml.YAMLError:
        raise _NotPlain from None
    finally:
        loader.dispose()


def _flow_end(text: str, event: CollectionEndEvent) -> bool:
    """Whether a collection's end closes a flow collection (``]`` or ``}`` in the text)."""
    start = _offset(event)
    return text[start : start + 1] in ("]", "}")


def _offset(event: yaml.events.Event) -> int:
    if event.start_mark is None:
        raise _NotPlain
    return event.start_mark.index


def _reader_problem(text: str, exc: yaml.reader.ReaderError) -> YamlProblem:
    before = text[: exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    return YamlProblem(
        f"the character U+{exc.character:04X} is not allowed in YAML "
        "(control characters cannot appear in a score)",
        line,
        column,
    )


def _index(
    loader: _PlainData,
    root: Node,
    locations: dict[DataPath, Location],
    *,
    plain_tags_only: bool = False,
) -> None:
    """Record positions and reject duplicate or non-scalar keys, without recursion.

    ``plain_tags_only``: also refuse any node whose tag is not plain data (the fast
    reader's check; the reference reader refuses those while composing).
    """
    stack: list[tuple[Node, DataPath]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if plain_tags_only and node.tag not in _PLAIN_TAGS:
            raise _NotPlain
        if isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                locations[(*path, i)] = (item.start_mark.line + 1, item.start_mark.column + 1)
                stack.append((item, (*path, i)))
        elif isinstance(node, MappingNode):
            seen: dict[Any, Location] = {}
            for key_node, value_node in node.value:
                where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if plain_tags_only and key_node.tag not in _PLAIN_TAGS:
                    raise _NotPlain
                if not isinstance(key_node, ScalarNode):
                    raise YamlProblem("mapping keys must be plain values", *where)
                key = loader.construct_object(key_node)
                if key in seen:
                    raise YamlProblem(
                        f"duplicate key {key!r} (first at line {seen[key][0]}); "
                        "YAML would silently keep only the last one",
                        *where,
                    )
                seen[key] = where
                locations[(*path, key)] = where
                stack.append((value_node, (*path, key)))
