"""The one exception hierarchy of opsporing.

Every error the library raises on bad input or bad files is one of these, so an
application can catch :class:`OpsporingError` and know it has seen everything::

    OpsporingError
    ├── VocabularyError
    │   └── UnknownCodeError            (also a LookupError)
    ├── InstrumentError
    │   ├── InstrumentDefinitionError   (carries every problem found in the file)
    │   └── UnknownInstrumentError      (also a LookupError)
    ├── ResponseValidationError         (also a ValueError; carries every bad answer)
    ├── DataError                       (synthetic data, tables, files)
    ├── ModelError
    │   ├── NotFittedError              (also a ValueError)
    │   └── ModelIntegrityError         (hash or version mismatch of a model file)
    ├── DecisionError                   (a decision that breaks the protocol)
    ├── FollowUpError                   (also a ValueError; a follow-up plan or review refused)
    │   └── UnitAccessError             (also a PermissionError; another unit's child)
    ├── StorageError                    (the audit log could not be opened or written)
    │   ├── IdempotencyConflictError    (a form token replayed with different content)
    │   └── AuditChainError             (the audit log's hash chain or head does not verify)
    └── UserError                       (also a ValueError; a bad user name, role or password)

Every error made from :class:`Problem` records carries them in ``problems`` (like
pydantic's ``ValidationError.errors()``), so a caller finds the field, row and value
from the record instead of parsing the message, and can show all of them at once
instead of fixing one, re-running, and meeting the next. ``Problem`` is the one place
that formats an echoed value, and it caps it: a 200 MB cell gives a one-line message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "VALUE_LIMIT",
    "AuditChainError",
    "DataError",
    "DecisionError",
    "FollowUpError",
    "IdempotencyConflictError",
    "InstrumentDefinitionError",
    "InstrumentError",
    "ModelError",
    "ModelIntegrityError",
    "NotFittedError",
    "OidcError",
    "OpsporingError",
    "Problem",
    "ResponseValidationError",
    "StorageError",
    "UnitAccessError",
    "UnknownCodeError",
    "UnknownInstrumentError",
    "UserError",
    "VocabularyError",
]

#: How many problems an error message lists before it says "and N more".
_MESSAGE_LIMIT = 20

#: How many characters of an echoed value (or field, or row label) a message shows.
VALUE_LIMIT = 80


def _capped(text: str, limit: int = VALUE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text):,} characters)"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input: where, what was found, what was expected.

    Parameters
    ----------
    field : str
        The item id, column or file key that is wrong.
    value : object
        The offending value as it was received.
    expected : str
        What would have been accepted, in words.
    row : int or str or None
        Row label (batch scoring) or ``None`` for a single form or a file.
    kind : str
        A stable machine-readable category, e.g. ``"out_of_range"``.

    Examples
    --------
    >>> print(Problem(field="soc_1", value=7, expected="one of 0, 1, 2, 3", row=4))
    row 4: soc_1 = 7: expected one of 0, 1, 2, 3
    >>> message = str(Problem(field="age_years", value="9" * 10_000, expected="a number"))
    >>> len(message) < 140, message[-42:]
    (True, "9'… (10,000 characters): expected a number")
    """

    field: str
    value: Any
    expected: str
    row: int | str | None = None
    kind: str = "invalid"

    def __str__(self) -> str:
        # A field or row named by outside data (a CSV header, a JSON key, an index label) may
        # hold line breaks or control characters: shown escaped, so a problem is one line.
        # Every echoed part is capped here, the one place that formats them.
        where = f"row {_printable(self.row)}: " if self.row is not None else ""
        # ``expected`` is ours but may quote a parser's message, which may quote the data.
        expected = _capped(str(self.expected), 1_000)
        return f"{where}{_printable(self.field)} = {_echo(self.value)}: expected {expected}"

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict (keys field, value, expected, row, kind)."""
        return {
            "field": self.field,
            "value": self.value,
            "expected": self.expected,
            "row": self.row,
            "kind": self.kind,
        }


def _echo(value: object) -> str:
    """``repr(value)``, capped; a huge string is cut before ``repr`` copies it whole."""
    if isinstance(value, str) and len(value) > VALUE_LIMIT:
        # repr of the head only (escapes may lengthen it, hence the second cut)
        shown = repr(value[: VALUE_LIMIT - 2])[:VALUE_LIMIT]
        return f"{shown}… ({len(value):,} characters)"
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not hide the real problem
        text = f"<{type(value).__name__}>"
    return _capped(text)


def _printable(name: object) -> str:
    text = str(name)
    if not text.isprintable():  # escape the unprintable characters only (Danish letters stay)
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) <= 2 * VALUE_LIMIT:
        return text
    # A field is often a file path: its end (the file name) matters as much as its start.
    return f"{text[: VALUE_LIMIT - 1]}…{text[-VALUE_LIMIT:]} ({len(text):,} characters)"


def _summarise(headline: str, problems: Sequence[Problem]) -> str:
    lines = [f"{headline} ({len(problems)} problem{'s' if len(problems) != 1 else ''})"]
    lines += [f"  - {p}" for p in problems[:_MESSAGE_LIMIT]]
    if len(problems) > _MESSAGE_LIMIT:
        lines.append(f"  ... and {len(problems) - _MESSAGE_LIMIT} more (see .problems)")
    return "\n".join(lines)


class OpsporingError(Exception):
    """Base class of every error raised by opsporing.

    Made from one or more :class:`Problem` records, the error keeps them in
    ``problems`` and its message is their summary; made from a message alone,
    ``problems`` is empty. Every CPR number in the message is masked
    (:func:`opsporing.privacy.mask_cpr`), in every subclass, so an error shown, logged or
    printed by ``--debug`` never carries one.

    Examples
    --------
    >>> err = DataError(Problem("age_years", "Ja", "a number", row=3))
    >>> err.problems[0].field, str(err)
    ('age_years', "row 3: age_years = 'Ja': expected a number")
    """

    problems: tuple[Problem, ...] = ()

    #: Rows (by label) whose valid answers raise a red flag, with the red-flag concept
    #: codes: the duty to notify never waits for the rest of the input to be fixed.
    red_flags: dict[Any, tuple[str, ...]] = {}  # noqa: RUF012 - replaced per instance
    #: The message before any red-flag notice was put in front of it.
    _unflagged: str

    def __init__(self, *args: object) -> None:
        from .privacy import mask_cpr  # privacy imports errors: imported when first raised

        if args and all(isinstance(a, Problem) for a in args):
            self.problems = _masked(a for a in args if isinstance(a, Problem))
            message = (
                str(self.problems[0])
                if len(self.problems) == 1
                else _summarise(type(self).__name__, self.problems)
            )
            super().__init__(mask_cpr(message))
        else:
            super().__init__(*(mask_cpr(a) if isinstance(a, str) else a for a in args))

    def with_red_flags(self, red_flags: Mapping[Any, Sequence[str]]) -> OpsporingError:
        """This error, its message opening with the § 133 notice for ``red_flags``.

        For every path that refuses an input holding a red flag: the caller still sees,
        first, that the duty to notify applies now. Returns ``self`` (to ``raise``).
        """
        flags = {row: tuple(codes) for row, codes in red_flags.items() if codes}
        if flags:
            # Called again (a refusal passed up through a round): merged, announced once.
            merged = dict(self.__dict__.get("red_flags", {}))
            for row, codes in flags.items():
                merged[row] = tuple(dict.fromkeys((*merged.get(row, ()), *codes)))
            if "_unflagged" not in self.__dict__:
                self._unflagged = str(self.args[0]) if self.args else ""
            self.red_flags = merged
            self.args = (_red_flag_notice(merged) + "\n" + self._unflagged, *self.args[1:])
        return self

    def to_frame(self) -> pd.DataFrame:
        """All problems as a table with columns row, field, value, expected, kind."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "row": p.row,
                    "field": p.field,
                    "value": p.value,
                    "expected": p.expected,
                    "kind": p.kind,
                }
                for p in self.problems
            ],
            columns=["row", "field", "value", "expected", "kind"],
        )


class _ProblemsMixin:
    """Marks the errors that always carry at least one :class:`Problem`."""

    problems: tuple[Problem, ...]


class VocabularyError(OpsporingError):
    """The common vocabulary is malformed or was asked for something it lacks."""


class UnknownCodeError(VocabularyError, LookupError):
    """A concept code, step or band that the vocabulary does not know.

    The message lists the closest known codes, so a typo is easy to fix.
    """

    def __init__(self, kind: str, code: object, suggestions: Iterable[str] = ()) -> None:
        self.kind = kind
        self.code = code
        self.suggestions = tuple(suggestions)
        hint = (
            f"; did you mean {', '.join(map(repr, self.suggestions))}?" if self.suggestions else ""
        )
        super().__init__(f"unknown {kind} {code!r}{hint}")


class InstrumentError(OpsporingError):
    """Something is wrong with a screening instrument or its use."""


class InstrumentDefinitionError(InstrumentError, _ProblemsMixin):
    """An instrument file failed validation; ``problems`` lists every finding."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = _masked(problems)
        super().__init__(_summarise(f"invalid instrument definition {source}", self.problems))


class UnknownInstrumentError(InstrumentError, LookupError):
    """No shipped or registered instrument has the requested id (and version)."""


class ResponseValidationError(OpsporingError, ValueError, _ProblemsMixin):
    """Answers that do not fit the instrument; ``problems`` lists every one.

    In batch scoring the problems of *every* bad row are collected before this
    is raised, so the caller sees the whole picture at once.
    """

    def __init__(
        self,
        problems: Sequence[Problem],
        headline: str = "invalid answers",
        red_flags: Mapping[Any, Sequence[str]] | None = None,
    ) -> None:
        self.problems = _masked(problems)
        super().__init__(_summarise(headline, self.problems))
        self.with_red_flags(red_flags or {})

    @property
    def rows(self) -> list[int | str]:
        """Labels of the rows that had at least one problem, in first-seen order."""
        seen: dict[int | str, None] = {}
        for p in self.problems:
            if p.row is not None:
                seen.setdefault(p.row, None)
        return list(seen)


def _masked(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    """The problems with every CPR-shaped row label or value masked.

    The message is masked anyway; the records are too, since ``to_frame`` writes them to
    a rejected-rows file and the web API returns them (an id that is a CPR number, named
    as "not in scores", must not travel on).
    """
    from .privacy import CPR_MASK, looks_like_cpr

    def mask(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return type(value)(mask(v) for v in value)
        return CPR_MASK if isinstance(value, str | int) and looks_like_cpr(value) else value

    return tuple(
        p
        if mask(p.row) == p.row and mask(p.value) is p.value
        else replace(p, row=mask(p.row), value=mask(p.value))
        for p in problems
    )


def _red_flag_notice(red_flags: Mapping[Any, Sequence[str]]) -> str:
    from .vocabulary import load_vocabulary  # errors is imported by everything: late import

    rows = list(red_flags)
    shown = ", ".join(str(r)[:40] for r in rows[:10])
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    codes = sorted({c for cs in red_flags.values() for c in cs})
    basis = load_vocabulary().duty_to_notify_basis
    return (
        f"RED FLAG ({', '.join(codes)}) in {len(rows)} form(s) ({shown}{more}): the duty to "
        f"notify ({basis.en}; {basis.da}) applies now, whatever else is wrong with the input."
    )


class DataError(OpsporingError, ValueError):
    """A data table or data file is malformed, truncated or of the wrong shape."""


class ModelError(OpsporingError):
    """A problem with the risk model."""


class NotFittedError(ModelError, ValueError, AttributeError):
    """The estimator was used before ``fit``.

    Also an ``AttributeError`` and ``ValueError`` so scikit-learn's own checks
    recognise it, as they do :class:`sklearn.exceptions.NotFittedError`.
    """


class ModelIntegrityError(ModelError):
    """A model file does not match its manifest (hash, versions) and was not loaded."""


class DecisionError(OpsporingError, ValueError):
    """A decision record breaks the protocol (e.g. an override without a reason)."""


class FollowUpError(OpsporingError, ValueError):
    """A follow-up plan or review breaks the process (unknown code, CPR number, no decision)."""


class UnitAccessError(FollowUpError, PermissionError):
    """A follow-up for a child of another unit (daycare or school) than the user's own."""


class StorageError(OpsporingError):
    """The audit log could not be opened or written; nothing of the submission was stored."""


class IdempotencyConflictError(StorageError):
    """A form token was submitted again with different content (a replayed or forged form)."""


class AuditChainError(StorageError):
    """The audit log was changed, cut short, reset or deleted behind the library's back.

    Raised when its keyed hash chain does not verify, when it holds fewer rows than its last
    known head, or when its key or head file is missing; the web form refuses to start.
    """


class UserError(OpsporingError, ValueError):
    """A user of the web form cannot be created or changed (bad name, role or password)."""


class OidcError(OpsporingError, ValueError):
    """The identity-provider login is misconfigured, or refused one login (``opsporing.web``)."""
