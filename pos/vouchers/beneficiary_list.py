"""Beneficiary lists for batch issuance: reading CSV or JSON rows and checking each one.

Pure functions, no database: the issuance module streams a list through `read_rows` twice
(once to check every row, once to issue), so a list of 100,000 rows is never held in
memory as objects. What the list may contain is deliberately narrow: a pseudonymous
reference, an optional holder reference, an optional note, and an optional grant label
(for a beneficiary who receives several vouchers of one program). A column such as `name`
or `phone` is refused outright, because personal data has no place in this service.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, Literal

from pos.errors import BATCH_INVALID, BATCH_UNREADABLE, Problem

Format = Literal["csv", "json"]

COLUMNS = ("ref", "holder_ref", "note", "grant")
MAX_ROWS = 200_000
MAX_NOTE = 500
# The same rule as the JSON API's references: letters, digits and . _ : / -
_REF = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")
# How many bad rows a report lists; the total is always given.
MAX_REPORTED = 500


@dataclasses.dataclass(frozen=True)
class RawRow:
    """One row as read: `line` is the CSV line number (header = 1) or the JSON position."""

    line: int
    values: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class BeneficiaryRow:
    line: int
    ref: str
    holder_ref: str | None
    note: str | None
    grant: str | None = None  # which grant, when a beneficiary receives several vouchers


@dataclasses.dataclass(frozen=True)
class RowProblem:
    line: int
    ref: str | None
    problems: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "ref": self.ref, "problems": list(self.problems)}


def batch_invalid(problems: list[RowProblem], total_bad: int) -> Problem:
    """The refusal of a whole list: nothing was issued, here is every bad row."""
    shown = sorted(problems, key=lambda p: p.line)[:MAX_REPORTED]
    first = shown[0] if shown else None
    where = f" (first: line {first.line}: {first.problems[0]})" if first else ""
    return BATCH_INVALID(
        f"{total_bad} row(s) of this list cannot be issued, so nothing was issued{where}. "
        "Correct the rows named in the report and send the whole list again.",
        rows=[p.as_dict() for p in shown], bad_rows=total_bad)


def file_problem(detail: str) -> Problem:
    return BATCH_UNREADABLE(detail)


def _text(source: BinaryIO) -> io.TextIOWrapper:
    # utf-8-sig: Excel writes a byte-order mark in front of "CSV UTF-8" files.
    return io.TextIOWrapper(source, encoding="utf-8-sig", newline="")


def _csv_rows(source: BinaryIO) -> Iterator[RawRow]:
    text = _text(source)
    reader = csv.reader(text)
    try:
        header = next(reader, None)
        if header is None:
            raise file_problem("The list is empty; it needs a header line with a ref column.")
        names = [h.strip().lower() for h in header]
        unknown = [n for n in names if n not in COLUMNS]
        if unknown:
            raise file_problem(
                f"The list has a column this service does not accept: {unknown[0]!r}. Only "
                "ref, holder_ref, note and grant are allowed; keep names, phone numbers and other "
                "personal data in the program's own records.")
        if "ref" not in names:
            raise file_problem("The list's header has no ref column.")
        if len(set(names)) != len(names):
            raise file_problem("The list's header names a column twice.")
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue  # blank lines, as spreadsheets leave at the end
            values: dict[str, Any] = dict(zip(names, fields, strict=False))
            if len(fields) > len(names):
                values["__extra__"] = True
            yield RawRow(reader.line_num, values)
    except UnicodeDecodeError:
        raise file_problem(
            "The list is not UTF-8 text. In a spreadsheet, save it as 'CSV UTF-8'.") from None
    except csv.Error as exc:
        raise file_problem(f"The list is not valid CSV near line {reader.line_num}: {exc}."
                           ) from None
    finally:
        text.detach()  # the caller owns the file and may read it again


def _json_rows(source: BinaryIO) -> Iterator[RawRow]:
    # JSON is read whole (its size is bounded by the upload limit); CSV streams.
    text = _text(source)
    try:
        data = json.load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise file_problem("The list is not valid JSON (UTF-8).") from None
    finally:
        text.detach()
    if isinstance(data, dict) and set(data) == {"beneficiaries"}:
        data = data["beneficiaries"]
    if not isinstance(data, list):
        raise file_problem(
            'Send a JSON list of rows, or {"beneficiaries": [...]}, each row an object '
            "with ref and optionally holder_ref, note and grant.")
    for i, item in enumerate(data, start=1):
        yield RawRow(i, item if isinstance(item, dict) else {"__not_object__": True})


def read_rows(source: BinaryIO, fmt: Format) -> Iterator[RawRow]:
    """Rows of a beneficiary list, one at a time. Problems with the file as a whole raise
    `batch_unreadable`; problems with single rows are left to `check_row`."""
    return _csv_rows(source) if fmt == "csv" else _json_rows(source)


def _optional(values: dict[str, Any], key: str) -> Any:
    value = values.get(key)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def check_row(raw: RawRow) -> tuple[BeneficiaryRow | None, list[str]]:
    """The row, or what is wrong with it (every problem, not just the first)."""
    values = raw.values
    if values.get("__not_object__"):
        return None, ["each row must be an object with a ref"]
    problems = []
    if values.get("__extra__"):
        problems.append("the row has more fields than the header")
    unknown = sorted(k for k in values if k not in COLUMNS and not k.startswith("__"))
    if unknown:
        problems.append(
            f"unknown field {unknown[0]!r}; only ref, holder_ref, note and grant")
    ref = _optional(values, "ref")
    holder = _optional(values, "holder_ref")
    note = _optional(values, "note")
    grant = _optional(values, "grant")
    if ref is None:
        problems.append("ref is missing")
    elif not isinstance(ref, str) or not _REF.match(ref):
        problems.append("ref must be 1-64 letters, digits or . _ : / -")
    if holder is not None and (not isinstance(holder, str) or not _REF.match(holder)):
        problems.append("holder_ref must be 1-64 letters, digits or . _ : / -")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE
                             or not note.isprintable()):
        problems.append(f"note must be text of at most {MAX_NOTE} printable characters")
    if grant is not None and (not isinstance(grant, str) or not _REF.match(grant)):
        problems.append("grant must be 1-64 letters, digits or . _ : / -")
    if problems:
        return None, problems
    return BeneficiaryRow(raw.line, ref, holder, note, grant), []


class ContentHash:
    """SHA-256 over the normalised rows, so the same list always makes the same batch id,
    whatever its line endings, spacing or byte-order mark."""

    def __init__(self, program_id: str) -> None:
        self._hash = hashlib.sha256(program_id.encode())

    def add(self, row: BeneficiaryRow) -> None:
        fields: tuple[str, ...] = (row.ref, row.holder_ref or "", row.note or "")
        if row.grant:  # lists without grants keep the batch ids they always had
            fields += (row.grant,)
        self._hash.update(("\x1f".join(fields) + "\x1e").encode())

    def digest(self) -> bytes:
        return self._hash.digest()
