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
    ├── StorageError                    (the audit log could not be opened or written)
    │   ├── IdempotencyConflictError    (a form token replayed with different content)
    │   └── AuditChainError             (the audit log's hash chain or head does not verify)
    └── UserError                       (also a ValueError; a bad user name, role or password)

Errors that can hold many problems (a whole instrument file, a batch of forms)
carry them as :class:`Problem` records, so a caller can show all of them at once
instead of fixing one, re-running, and meeting the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "AuditChainError",
    "DataError",
    "DecisionError",
    "IdempotencyConflictError",
    "InstrumentDefinitionError",
    "InstrumentError",
    "ModelError",
    "ModelIntegrityError",
    "NotFittedError",
    "OpsporingError",
    "Problem",
    "ResponseValidationError",
    "StorageError",
    "UnknownCodeError",
    "UnknownInstrumentError",
    "UserError",
    "VocabularyError",
]

#: How many problems an error message lists before it says "and N more".
_MESSAGE_LIMIT = 20


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
    """

    field: str
    value: Any
    expected: str
    row: int | str | None = None
    kind: str = "invalid"

    def __str__(self) -> str:
        # A field or row named by outside data (a CSV header, a JSON key, an index label) may
        # hold line breaks or control characters: shown escaped, so a problem is one line.
        where = f"row {_printable(self.row)}: " if self.row is not None else ""
        return f"{where}{_printable(self.field)} = {self.value!r}: expected {self.expected}"


def _printable(name: object) -> str:
    text = str(name)
    return text if text.isprintable() else repr(text)


def _summarise(headline: str, problems: Sequence[Problem]) -> str:
    lines = [f"{headline} ({len(problems)} problem{'s' if len(problems) != 1 else ''})"]
    lines += [f"  - {p}" for p in problems[:_MESSAGE_LIMIT]]
    if len(problems) > _MESSAGE_LIMIT:
        lines.append(f"  ... and {len(problems) - _MESSAGE_LIMIT} more (see .problems)")
    return "\n".join(lines)


class OpsporingError(Exception):
    """Base class of every error raised by opsporing.

    Every CPR number in the message is masked (:func:`opsporing.privacy.mask_cpr`), in
    every subclass, so an error shown, logged or printed by ``--debug`` never carries one.
    """

    #: Rows (by label) whose valid answers raise a red flag, with the red-flag concept
    #: codes: the duty to notify never waits for the rest of the input to be fixed.
    red_flags: dict[Any, tuple[str, ...]] = {}  # noqa: RUF012 - replaced per instance

    def __init__(self, *args: object) -> None:
        from .privacy import mask_cpr  # privacy imports errors: imported when first raised

        super().__init__(*(mask_cpr(a) if isinstance(a, str) else a for a in args))

    def with_red_flags(self, red_flags: Mapping[Any, Sequence[str]]) -> OpsporingError:
        """This error, its message opening with the § 133 notice for ``red_flags``.

        For every path that refuses an input holding a red flag: the caller still sees,
        first, that the duty to notify applies now. Returns ``self`` (to ``raise``).
        """
        flags = {row: tuple(codes) for row, codes in red_flags.items() if codes}
        if flags:
            self.red_flags = flags
            first = str(self.args[0]) if self.args else ""
            self.args = (_red_flag_notice(flags) + "\n" + first, *self.args[1:])
        return self


class _ProblemsMixin:
    """Shared behaviour of errors that carry a list of :class:`Problem`."""

    problems: tuple[Problem, ...]

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
        self.problems = tuple(problems)
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
        self.problems = tuple(problems)
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
