"""The one way hardware profile YAML is read and written: shipped profiles, user files, the host
cache.

PyYAML's safe loader still accepts what a profile never needs and what makes a broken or hostile
file costly or silently wrong: anchors and aliases (a 1 KB "billion laughs" file expands to
gigabytes), duplicate keys (the last one silently wins), keys that are not text (``1:``,
``yes:``, ``null:``; mixed with text keys they break sorting), explicit tags (``!!binary``,
``!!set``, ``!!float abc``), merge keys (``<<``), integers of thousands of digits, NaN,
impossible dates, and nesting deep enough to exhaust the composer's recursion.
:func:`load_yaml_mapping` refuses all of these, and files that are not UTF-8, empty, not a
mapping at the top, larger than :data:`MAX_FILE_BYTES`, or not a regular file. Every refusal is
one short :class:`~zoomwatt.errors.InputError` line that names the file and, where there is one,
the line in it. :func:`dump_yaml` writes data this loader reads back unchanged (no aliases).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.reader import ReaderError

from zoomwatt.errors import InputError, shorten

#: Largest profile file read (shipped profiles are about 4 KB).
MAX_FILE_BYTES = 1024 * 1024
#: Deepest nesting of lists and mappings (shipped profiles nest 5 levels).
MAX_DEPTH = 32
#: Longest integer literal, in characters (a float holds at most ~309 digits anyway).
MAX_INT_CHARS = 400
#: Longest file path shown in a message; longer ones keep their end (the file name).
MAX_PATH_CHARS = 100

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NO_ALIASES = "no YAML anchors (&) or aliases (*) in a profile; write each value out"


def file_label(path: str | Path) -> str:
    """``path`` as shown in an error message: on one line, at most ``MAX_PATH_CHARS``."""
    text = str(path)
    if not text.isprintable():
        text = repr(text)[1:-1]
    if len(text) > MAX_PATH_CHARS:
        text = "..." + text[len(text) - MAX_PATH_CHARS + 3 :]
    return text


class RefusedYAMLError(yaml.MarkedYAMLError):
    """YAML that is valid but not allowed in a profile: ``what=value: expected ...``."""

    def __init__(self, node_or_event: Any, what: str, value: Any, expected: str):
        super().__init__(problem=expected, problem_mark=node_or_event.start_mark)
        self.what = what
        self.value = value
        self.expected = expected


class ProfileLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` minus anchors, aliases, tags, merge keys, duplicate or non-text keys,
    huge integers, NaN and deep nesting (each raises :class:`RefusedYAMLError`)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    # -- events: refused before anything is built
    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise RefusedYAMLError(event, "alias", f"*{event.anchor}", _NO_ALIASES)
        if getattr(event, "anchor", None) is not None:
            raise RefusedYAMLError(event, "anchor", f"&{event.anchor}", _NO_ALIASES)
        if getattr(event, "tag", None) is not None:
            raise RefusedYAMLError(event, "tag", event.tag, "no YAML tags in a profile")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise RefusedYAMLError(
                    event, "nesting", self._depth, f"at most {MAX_DEPTH} levels of lists/mappings"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    # -- mappings: text keys, each once
    def construct_mapping(self, node: Any, deep: bool = False) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):  # pragma: no cover - the composer's job
            raise RefusedYAMLError(node, "node", node.id, "a mapping")
        mapping: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                raise RefusedYAMLError(key_node, "key", "<<", "no YAML merge keys in a profile")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR_TAG:
                if isinstance(key_node, yaml.ScalarNode):
                    shown, kind = key_node.value, key_node.tag.rsplit(":", 1)[-1]
                else:
                    shown, kind = f"(a {key_node.id})", key_node.id
                raise RefusedYAMLError(
                    key_node,
                    "key",
                    shown,
                    f"a text key (this one reads as {kind}; quote it if you mean the text)",
                )
            key = self.construct_scalar(key_node)
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise RefusedYAMLError(
                    key_node,
                    "key",
                    key,
                    f"each key once in a mapping (also at line {first_line[key]})",
                )
            first_line[key] = line
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    # -- scalars: bounded integers, no NaN, dates that exist
    def construct_yaml_int(self, node: Any) -> int:
        if len(node.value) > MAX_INT_CHARS:
            raise RefusedYAMLError(
                node,
                "integer",
                node.value,
                f"at most {MAX_INT_CHARS} digits (this one has {len(node.value)})",
            )
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            raise RefusedYAMLError(node, "integer", node.value, "a valid integer") from None

    def construct_yaml_float(self, node: Any) -> float:
        try:
            value = super().construct_yaml_float(node)
        except ValueError:
            raise RefusedYAMLError(node, "number", node.value, "a valid number") from None
        if math.isnan(value):
            raise RefusedYAMLError(node, "number", node.value, "a number, not NaN")
        return value

    def construct_yaml_timestamp(self, node: Any) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            raise RefusedYAMLError(
                node, "date", node.value, "a valid date (quote it if you mean the text)"
            ) from None


for _tag, _method in (
    ("tag:yaml.org,2002:int", ProfileLoader.construct_yaml_int),
    ("tag:yaml.org,2002:float", ProfileLoader.construct_yaml_float),
    ("tag:yaml.org,2002:timestamp", ProfileLoader.construct_yaml_timestamp),
):
    ProfileLoader.add_constructor(_tag, _method)


class _NoAliasDumper(yaml.SafeDumper):
    """Writes a shared object out again instead of as an anchor + alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any) -> str:
    """YAML text of ``data`` in file order, without anchors or aliases (so that
    :func:`load_yaml_mapping` reads it back)."""
    return yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False)


def _line_text(text: str, line: int, limit: int = 50) -> str:
    """The 1-based ``line`` of ``text`` without its indentation, cut to ``limit`` characters,
    or a note when the file ends before it."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return "(end of file)"
    shown = lines[line - 1].strip()
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _read_bytes(path: Path, label: str) -> bytes:
    try:
        is_dir = path.is_dir()
        is_file = path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte in it
        is_dir = is_file = False
    if is_dir:
        raise InputError("--hw", label, "a hardware profile file (.yaml), not a folder")
    if not is_file:
        raise InputError("--hw", label, "an existing hardware profile file (.yaml)")
    too_big = f"a hardware profile file of at most {MAX_FILE_BYTES // 1024 // 1024} MiB"
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise InputError(f"{label}: size", f"{size} bytes", too_big)
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError("--hw", label, f"a readable file ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:  # grew while read
        raise InputError(f"{label}: size", f"over {MAX_FILE_BYTES} bytes", too_big)
    return raw


def _decode(raw: bytes, label: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{label}: line {line}, byte {exc.start}",
            raw[exc.start : exc.start + 4],
            "UTF-8 text (save the profile as UTF-8)",
        ) from None


def parse_yaml_text(text: str, label: str) -> Any:
    """The one YAML document in ``text`` (read with :class:`ProfileLoader`); ``label`` names
    the file in the message of the :class:`InputError` raised on any problem."""
    loader = None
    try:
        loader = ProfileLoader(text)  # checks the characters first
        return loader.get_single_data()
    except RefusedYAMLError as exc:
        line = exc.problem_mark.line + 1
        raise InputError(f"{label}: line {line}: {exc.what}", exc.value, exc.expected) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(exc.problem or "a syntax error").split())
        context = " ".join(str(exc.context or "").split())
        said = f"{context}: {problem}" if context and len(context + problem) < 74 else problem
        if mark is None:  # pragma: no cover - PyYAML marks every parse error
            raise InputError(label, "(file content)", f"valid YAML; {shorten(said)}") from None
        raise InputError(
            f"{label}: line {mark.line + 1}, column {mark.column + 1}",
            _line_text(text, mark.line + 1),
            f"valid YAML; the parser said: {shorten(said)}",
        ) from None
    except ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise InputError(
            f"{label}: line {line}", f"#x{code:04x}", "valid YAML: printable characters only"
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error is one of the above
        raise InputError(label, "(file content)", f"valid YAML ({shorten(str(exc))})") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # a constructor that slipped past the checks above: still one line, never a traceback
        raise InputError(
            label, "(file content)", f"valid YAML ({type(exc).__name__}: {shorten(str(exc))})"
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml_mapping(path: str | Path, what: str = "a hardware profile") -> dict[str, Any]:
    """The YAML mapping in the file at ``path``, read safely (see the module's docstring).

    Raises :class:`InputError` naming the file (and the line) when the file is missing, a
    folder, over ``MAX_FILE_BYTES``, not UTF-8, not valid YAML, uses what profiles may not, is
    empty or is not a mapping at the top; ``what`` says what the mapping should be.
    """
    path = Path(path)
    label = file_label(path)
    raw = _read_bytes(path, label)
    cached = _parsed_cache(raw)
    if cached is not None:
        return cached
    text = _decode(raw, label)
    data = parse_yaml_text(text, label)
    if data is None:
        blank = all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines())
        shown = "(empty file)" if blank else "(null)"
        raise InputError(label, shown, f"{what}: a YAML mapping of keys to values")
    if not isinstance(data, dict):
        raise InputError(f"{label}: top level", data, f"{what}: a YAML mapping of keys to values")
    _store_parsed(raw, data)
    return data


# --- a cache of parsed files ----------------------------------------------------------------
# PyYAML's pure-Python parser (the strict checks above need it) takes about 50 ms per profile;
# a mapping parsed once is kept as JSON in the user's cache folder, keyed by the file's bytes and
# this module's source, and used only where it reads back equal (JSON holds every value a
# profile may have: text, numbers, booleans, null, lists, mappings with text keys).


def _parsed_path(raw: bytes) -> Path:
    import hashlib

    from zoomwatt.cache_dir import cache_dir

    h = hashlib.sha256(_SOURCE_DIGEST.encode() + b"\0" + raw).hexdigest()[:32]
    return cache_dir() / "yaml" / f"{h}.json"


def _parsed_cache(raw: bytes) -> dict[str, Any] | None:
    import json

    try:
        path = _parsed_path(raw)
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _store_parsed(raw: bytes, data: dict[str, Any]) -> None:
    import json

    from zoomwatt.atomic_write import write_atomic

    try:
        text = json.dumps(data, allow_nan=False, separators=(",", ":"))
        if json.loads(text) != data:  # something JSON does not keep exactly: parse every time
            return
        path = _parsed_path(raw)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
    except (OSError, ValueError, TypeError, RecursionError):
        return


def _source_digest() -> str:
    import hashlib

    try:
        return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    except OSError:
        return "unknown"


_SOURCE_DIGEST = _source_digest()
