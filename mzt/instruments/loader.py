"""Finding instrument profiles: built-ins, then the user's, then the current directory's.

Load order (a later profile replaces an earlier one of the same ``name``):

1. the built-in profiles shipped in ``mzt/instruments/builtin/``;
2. ``MZT_HOME/instruments/*.yaml|*.yml``;
3. ``./.marianne/instruments/*.yaml|*.yml`` (relative to the current directory).

Folders are read non-recursively, files sorted by name, hidden files skipped. A file
that cannot be read or is not a valid profile is recorded as a `ProfileProblem` and
skipped: a broken profile never stops scores that do not use it.

Built-in profiles are known by their file names and read only when asked for (see
:mod:`mzt.instruments.shipped`): checking a score that uses `cli` reads one profile, and
listing names reads none. A built-in file found broken when read is recorded as a
problem then.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mzt.instruments import shipped
from mzt.support import records
from mzt.support.fsutil import read_regular_file
from mzt.support.paths import local_instruments_dir, user_instruments_dir

if TYPE_CHECKING:
    from mzt.instruments.command import Instrument
    from mzt.instruments.profile import InstrumentProfile
    from mzt.support.strictmodel import ValidationError
    from mzt.support.yamlsafe import Document

BUILTIN: Literal["built-in"] = "built-in"
MAX_PROFILE_BYTES = 256 * 1024
DEFAULT_TIMEOUT_SECONDS = 1800.0

ALIASES: Mapping[str, str] = {"claude_cli": "claude-code"}
"""Older names that resolve to a profile (``claude_cli`` is Marianne's default instrument)."""

NATIVE_ONLY: Mapping[str, str] = {
    "recursive_light": "Marianne's Recursive Light backend has no counterpart in mzt",
}
"""Names Marianne scores use that mzt knows but has no profile for (so they validate)."""

Source = Path | Literal["built-in"]


@records.record(frozen=True, slots=True)
class ProfileProblem:
    """A profile file that was skipped, and why (one paragraph, with the line)."""

    path: Path
    message: str
    line: int | None = None
    name: str | None = None  # the `name` the file declares, when it could be read
    default_timeout_seconds: float | None = None  # likewise, when it is a sane number

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ProfileInvalid(Exception):
    """The text is not a valid profile; ``message`` is one paragraph naming the lines."""

    def __init__(self, message: str, line: int | None = None, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.data = data


def read_profile(raw: bytes) -> InstrumentProfile:
    """Parse and check one profile file's bytes; raises `ProfileInvalid`."""
    from mzt.support.yamlsafe import YamlProblem, decode, parse

    try:
        document = parse(decode(raw))
    except YamlProblem as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise ProfileInvalid(f"{where}{exc.message}", exc.line) from None
    return check_profile(document)


def check_profile(document: Document) -> InstrumentProfile:
    """Check parsed profile data against the profile model; raises `ProfileInvalid`."""
    from mzt.instruments.profile import InstrumentProfile
    from mzt.support.strictmodel import ValidationError

    data = document.data
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}, not a mapping of keys"
        raise ProfileInvalid(f"the file is {what}; a profile needs name, display_name and kind")
    try:
        return InstrumentProfile.model_validate(data)
    except ValidationError as exc:
        message, line = _describe(exc, document)
        raise ProfileInvalid(message, line, data) from None


class Registry:
    """The instruments known here, by name, with where each came from.

    ``builtins`` are shipped profile files not yet read, by name; each is read the first
    time its instrument is asked for, so names and membership never read a file.
    """

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        problems: tuple[ProfileProblem, ...] = (),
        *,
        builtins: Mapping[str, Path] | None = None,
    ) -> None:
        self._instruments = dict(instruments)
        self._pending = {k: v for k, v in (builtins or {}).items() if k not in self._instruments}
        self._problems = list(problems)

    @property
    def problems(self) -> tuple[ProfileProblem, ...]:
        """Every profile file that was skipped (reads the built-ins not read yet)."""
        self._read_all()
        return tuple(self._problems)

    @property
    def file_problems(self) -> tuple[ProfileProblem, ...]:
        """The skipped files found so far, without reading any more built-ins."""
        return tuple(self._problems)

    def canonical(self, name: str) -> str | None:
        """The profile ``name`` refers to (resolving aliases), or None if unknown."""
        if name in self._instruments or name in self._pending:
            return name
        target = ALIASES.get(name)
        return target if target in self._instruments or target in self._pending else None

    def get(self, name: str) -> Instrument | None:
        """The instrument called ``name`` (or an alias of it); None if there is no profile."""
        canonical = self.canonical(name)
        if canonical is None:
            return None
        if canonical in self._pending:
            self._read(canonical)
        return self._instruments.get(canonical)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return self.canonical(name) is not None or name in NATIVE_ONLY

    def __iter__(self) -> Iterator[Instrument]:
        """The instruments (one per profile, no aliases), sorted by name."""
        self._read_all()
        return iter(sorted(self._instruments.values(), key=lambda i: i.name))

    def names(self) -> list[str]:
        """Every name a score may use: profiles, aliases and known native names."""
        known = {*self._instruments, *self._pending}
        aliases = [a for a, t in ALIASES.items() if t in known]
        return sorted({*known, *aliases, *NATIVE_ONLY})

    def default_timeout(self, name: str) -> float | None:
        """The attempt timeout of ``name``'s profile; None for an unknown name."""
        canonical = self.canonical(name)
        if canonical in self._pending:
            # Planning needs only this number: no need to build the whole profile model.
            return shipped_timeout(self._pending[canonical])
        instrument = self.get(name)
        if instrument is not None:
            return instrument.default_timeout
        return DEFAULT_TIMEOUT_SECONDS if name in NATIVE_ONLY else None

    def source(self, name: str) -> Source | None:
        """The file ``name``'s profile came from, or ``"built-in"``; None if unknown."""
        canonical = self.canonical(name)
        if canonical in self._pending:
            return BUILTIN
        instrument = self.get(name)
        if instrument is not None:
            return instrument.source
        return BUILTIN if name in NATIVE_ONLY else None

    def _read(self, name: str) -> None:
        loaded = _shipped_instrument(self._pending.pop(name))
        if isinstance(loaded, ProfileProblem):
            self._problems.append(loaded)
        else:
            self._instruments[name] = loaded

    def _read_all(self) -> None:
        for name in sorted(self._pending):
            self._read(name)


def load_instruments(home: Path | None = None, cwd: Path | None = None) -> Registry:
    """Built-ins, then ``MZT_HOME/instruments``, then ``./.marianne/instruments``."""
    instruments: dict[str, Instrument] = {}
    found: list[ProfileProblem] = []
    for folder in (user_instruments_dir(home), local_instruments_dir(cwd)):
        for instrument in _load_folder(folder, found):
            instruments[instrument.name] = instrument
    return Registry(instruments, tuple(found), builtins=shipped.files())


def builtin_names() -> frozenset[str]:
    """The names of the shipped profiles (from their file names; nothing is read)."""
    return frozenset(shipped.files())


@cache
def _shipped_instrument(path: Path) -> Instrument | ProfileProblem:
    # Shipped files never change while mzt runs: read and check each at most once.
    from mzt.instruments.command import Instrument
    from mzt.support.yamlsafe import Document

    try:
        data = shipped.read(path)
    except Exception as exc:  # any parse failure (YAMLError, OSError) makes it a problem
        return _problem(path, ProfileInvalid(f"cannot be parsed: {exc}"))
    try:
        profile = check_profile(Document(data, {}))
    except ProfileInvalid as exc:
        return _problem(path, exc)
    if profile.name != path.stem:
        return _problem(path, ProfileInvalid(f"declares the name {profile.name!r}"))
    return Instrument(profile, BUILTIN)


@cache
def shipped_timeout(path: Path) -> float | None:
    """A shipped profile's attempt timeout, read from its data (None if it is unusable)."""
    try:
        data = shipped.read(path)
    except Exception:  # reported with the file when the profile itself is read
        return None
    value = data.get("default_timeout_seconds") if isinstance(data, dict) else None
    if value is None:
        return DEFAULT_TIMEOUT_SECONDS
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _load_folder(folder: Path, problems: list[ProfileProblem]) -> list[Instrument]:
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        problems.append(ProfileProblem(folder, f"cannot list the folder: {exc.strerror or exc}"))
        return []
    loaded = []
    for path in entries:
        if path.name.startswith(".") or path.suffix not in (".yaml", ".yml"):
            continue
        try:
            if not path.is_file():
                continue  # a folder or a device named *.yaml is not a profile
            raw = _read_bounded(path)
            loaded.append(_instrument(read_profile(raw), path))
        except ProfileInvalid as exc:
            problems.append(_problem(path, exc))
        except OSError as exc:
            problems.append(ProfileProblem(path, f"cannot read the file: {exc.strerror or exc}"))
    return loaded


def _instrument(profile: InstrumentProfile, source: Source) -> Instrument:
    from mzt.instruments.command import Instrument

    return Instrument(profile, source)


def _read_bounded(path: Path) -> bytes:
    # Never blocks: a FIFO swapped in after the is_file() check is refused.
    raw = read_regular_file(path, MAX_PROFILE_BYTES + 1, follow=True)
    if len(raw) > MAX_PROFILE_BYTES:
        raise ProfileInvalid(f"the file is larger than {MAX_PROFILE_BYTES // 1024} KiB")
    return raw


def _problem(path: Path, exc: ProfileInvalid) -> ProfileProblem:
    name = timeout = None
    if isinstance(exc.data, dict):
        declared = exc.data.get("name")
        name = declared if isinstance(declared, str) and declared else None
        value = exc.data.get("default_timeout_seconds")
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e9:
            timeout = float(value)
    message = f"not a valid instrument profile, skipped: {exc.message}"
    return ProfileProblem(path, message, exc.line, name, timeout)


_MESSAGES = {
    "missing": "required key is missing",
    "extra_forbidden": "unknown key",
}
_MAX_LISTED = 5


def _describe(exc: ValidationError, document: Document) -> tuple[str, int | None]:
    """One paragraph listing each error as ``line N (path): what``; the first error's line."""
    parts: list[str] = []
    first_line: int | None = None
    errors = exc.errors()
    for error in errors[:_MAX_LISTED]:
        loc = tuple(error["loc"])
        # A missing key has no line of its own: the mapping that lacks it gives one.
        where = document.locate(loc)
        line = where[0] if where else None
        first_line = first_line or line
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        what = _MESSAGES.get(error["type"]) or error["msg"].removeprefix("Value error, ")
        label = f"line {line}" if line else ""
        if dotted:
            label = f"{label} ({dotted})" if label else dotted
        parts.append(f"{label}: {what}" if label else what)
    more = len(errors) - _MAX_LISTED
    text = "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
    return text, first_line
