# ruff: noqa: RUF001
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
from pos.messages import Phrase, words

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
    problems: tuple[Phrase, ...]  # said in the reader's language when the report goes out

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "ref": self.ref, "problems": list(self.problems)}


def batch_invalid(problems: list[RowProblem], total_bad: int) -> Problem:
    """The refusal of a whole list: nothing was issued, here is every bad row."""
    shown = sorted(problems, key=lambda p: p.line)[:MAX_REPORTED]
    first = shown[0] if shown else None
    where = (words("（第一处：第 {line} 行：{problem}）", " (first: line {line}: {problem})",
                   line=first.line, problem=first.problems[0]) if first else words("", ""))
    return BATCH_INVALID(
        words("这份名单有 {bad} 行不能发券，因此一张券也没有发{where}。请改正报告中列出的行，"
              "再发送整份名单。",
              "{bad} row(s) of this list cannot be issued, so nothing was issued{where}. "
              "Correct the rows named in the report and send the whole list again.",
              bad=total_bad, where=where),
        rows=[p.as_dict() for p in shown], bad_rows=total_bad)


def file_problem(detail: Phrase) -> Problem:
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
            raise file_problem(words("名单是空的：第一行须是列名，且含 ref 列。",
                                     "The list is empty; it needs a header line with a ref "
                                     "column."))
        names = [h.strip().lower() for h in header]
        unknown = [n for n in names if n not in COLUMNS]
        if unknown:
            raise file_problem(words(
                "名单中有本服务不接受的列：{column}。只允许 ref、holder_ref、note 和 grant；"
                "姓名、电话等个人信息请留在项目自己的记录里。",
                "The list has a column this service does not accept: {column}. Only ref, "
                "holder_ref, note and grant are allowed; keep names, phone numbers and other "
                "personal data in the program's own records.", column=repr(unknown[0])))
        if "ref" not in names:
            raise file_problem(words("名单的列名中没有 ref 列。",
                                     "The list's header has no ref column."))
        if len(set(names)) != len(names):
            raise file_problem(words("名单的列名中有一列出现了两次。",
                                     "The list's header names a column twice."))
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue  # blank lines, as spreadsheets leave at the end
            values: dict[str, Any] = dict(zip(names, fields, strict=False))
            if len(fields) > len(names):
                values["__extra__"] = True
            yield RawRow(reader.line_num, values)
    except UnicodeDecodeError:
        raise file_problem(words(
            "名单不是 UTF-8 文本。在电子表格中请另存为“CSV UTF-8”。",
            "The list is not UTF-8 text. In a spreadsheet, save it as 'CSV UTF-8'.")) from None
    except csv.Error as exc:
        raise file_problem(words("名单在第 {line} 行附近不是有效的 CSV：{error}。",
                                 "The list is not valid CSV near line {line}: {error}.",
                                 line=reader.line_num, error=str(exc))) from None
    finally:
        text.detach()  # the caller owns the file and may read it again


def _json_rows(source: BinaryIO) -> Iterator[RawRow]:
    # JSON is read whole (its size is bounded by the upload limit); CSV streams.
    text = _text(source)
    try:
        data = json.load(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise file_problem(words("名单不是有效的 JSON（UTF-8）。",
                                 "The list is not valid JSON (UTF-8).")) from None
    finally:
        text.detach()
    if isinstance(data, dict) and set(data) == {"beneficiaries"}:
        data = data["beneficiaries"]
    if not isinstance(data, list):
        raise file_problem(words(
            "请发送由各行组成的 JSON 列表，或 {shape}，每行是含 ref、"
            "可选 holder_ref、note 和 grant 的对象。",
            "Send a JSON list of rows, or {shape}, each row an object with ref and "
            "optionally holder_ref, note and grant.", shape='{"beneficiaries": [...]}'))
    for i, item in enumerate(data, start=1):
        yield RawRow(i, item if isinstance(item, dict) else {"__not_object__": True})


def read_rows(source: BinaryIO, fmt: Format) -> Iterator[RawRow]:
    """Rows of a beneficiary list, one at a time. Problems with the file as a whole raise
    `batch_unreadable`; problems with single rows are left to `check_row`."""
    return _csv_rows(source) if fmt == "csv" else _json_rows(source)


def _reference_rule(column: str) -> Phrase:
    return words("{column} 须是 1 到 64 个字母、数字或 . _ : / -",
                 "{column} must be 1-64 letters, digits or . _ : / -", column=column)


def _optional(values: dict[str, Any], key: str) -> Any:
    value = values.get(key)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def check_row(raw: RawRow) -> tuple[BeneficiaryRow | None, list[Phrase]]:
    """The row, or what is wrong with it (every problem, not just the first)."""
    values = raw.values
    if values.get("__not_object__"):
        return None, [words("每行须是含 ref 的对象", "each row must be an object with a ref")]
    problems = []
    if values.get("__extra__"):
        problems.append(words("这一行的字段比列名多", "the row has more fields than the header"))
    unknown = sorted(k for k in values if k not in COLUMNS and not k.startswith("__"))
    if unknown:
        problems.append(words("未知字段 {field}；只允许 ref、holder_ref、note 和 grant",
                              "unknown field {field}; only ref, holder_ref, note and grant",
                              field=repr(unknown[0])))
    ref = _optional(values, "ref")
    holder = _optional(values, "holder_ref")
    note = _optional(values, "note")
    grant = _optional(values, "grant")
    if ref is None:
        problems.append(words("缺少 ref", "ref is missing"))
    elif not isinstance(ref, str) or not _REF.match(ref):
        problems.append(_reference_rule("ref"))
    if holder is not None and (not isinstance(holder, str) or not _REF.match(holder)):
        problems.append(_reference_rule("holder_ref"))
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE
                             or not note.isprintable()):
        problems.append(words("note 须是最多 {most} 个可打印字符的文字",
                              "note must be text of at most {most} printable characters",
                              most=MAX_NOTE))
    if grant is not None and (not isinstance(grant, str) or not _REF.match(grant)):
        problems.append(_reference_rule("grant"))
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
