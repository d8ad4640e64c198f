"""The import's analysis: read every row once, validate it, stage the valid ones with their duplicate group
(COPY), store the invalid ones' problems, and count what each duplicate strategy would do.
"""

from __future__ import annotations

import gc
import json
import re
import tempfile
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection
from django.utils import timezone

from core.bulk import copy_rows, copy_text, statistics_refresh
from core.errors import ValidationError
from imports import mapping as mapping_rules
from imports import parallel, progress, readers
from imports.grouping import UnionFind, key_owners
from imports.models import (
    ImportBatch,
    ImportIssue,
    ImportJob,
    ImportStatus,
    IssueKind,
)
from imports.parsing import Problem, RowParser
from people.bulk import PERSON_TABLES
from people.fields import API_NAME
from people.services import custom_attribute_definitions

QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
SAMPLE_ROWS = 10
PROGRESS_ROWS = 1000  # rows between two looks at the clock (progress.Writer writes at most twice a second)
MSG_HEADERS_CHANGED = "The file's columns changed since it was mapped; map it again."


def data_path(job: ImportJob) -> Path:
    return Path(job.data_file.path)


def table_info(job: ImportJob) -> readers.TableInfo:
    """How the job's table is read: its format and the encoding, delimiter and sheet in force."""
    return readers.TableInfo(
        job.file_format, encoding=job.effective_encoding, delimiter=job.effective_delimiter, sheet_name=job.sheet_name
    )


def staged_delete(job_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM imports_importrow WHERE job_id = %s", [job_id])


def issue_rows(job_id: int, kind: str, number: int, cells: list[str], problems: list[Problem]) -> Iterator[tuple]:
    values = json.dumps(cells, ensure_ascii=False)
    for problem in problems:
        yield (job_id, number, kind, problem.column[:255], problem.value, problem.reason, values)


ISSUE_COLUMNS = ["job_id", "row", "kind", "column", "value", "reason", "values"]


@dataclass
class Analysis:
    """What the analysis keeps per valid row, compactly: 150,000 rows must fit in well under 500 MB.
    Staged data waits in a temporary file until the duplicate groups are known; keys are interned."""

    rows: int = 0
    invalid: int = 0
    numbers: array = field(default_factory=lambda: array("q"))  # row number per valid row
    key_ids: dict[str, int] = field(default_factory=dict)  # key → key id, in order of first appearance
    key_first: array = field(default_factory=lambda: array("q"))  # key id → index of the first row holding it
    row_keys: array = field(default_factory=lambda: array("q"))  # key ids of all rows, back to back
    row_start: array = field(default_factory=lambda: array("q", [0]))  # row index → offset in row_keys
    sample: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, keys: list[str]) -> int:
        index = len(self.numbers) - 1
        key_ids, row_keys = self.key_ids, self.row_keys
        for key in keys:
            key_id = key_ids.get(key)
            if key_id is None:
                key_id = key_ids[key] = len(key_ids)
                self.key_first.append(index)
            row_keys.append(key_id)
        self.row_start.append(len(row_keys))
        return index

    def keys_of(self, index: int) -> array:
        return self.row_keys[self.row_start[index] : self.row_start[index + 1]]


def analyze_job(job: ImportJob, started: float) -> None:
    realm = job.realm
    definitions = custom_attribute_definitions(realm)
    mapping_rules.clean_mapping(job.mapping, job.headers, definitions)
    parser = RowParser(job.mapping, definitions, default_country=realm.default_country, default_type=job.default_type)
    headers, rows = readers.table_rows(data_path(job), table_info(job))
    if headers != job.headers:
        raise ValidationError.single("mapping", MSG_HEADERS_CHANGED)
    staged_delete(job.pk)
    ImportIssue.objects.filter(job=job).delete()
    ImportBatch.objects.filter(job=job).delete()

    result = Analysis()
    writer = progress.Writer(job.pk, progress.expected_rows(data_path(job), job.file_format))
    # The collector would walk every object of the process again and again while the analysis fills its
    # containers with 150,000 rows' keys; none of what exists before it is garbage of the analysis.
    gc.freeze()
    try:
        roots = _stage(job, parallel.parsed_rows(parser, rows, data_path(job), table_info(job)), result, writer)
        writer.update(result.rows, "matching")
        # The staged rows and the persons' contact tables are read next (and by every batch): a new database
        # has no statistics for them yet.
        statistics_refresh(["imports_importrow", "imports_importissue", *PERSON_TABLES])
        owners = key_owners(realm.pk, result.key_ids)
        group_size, matching_rows, discard, resolve = _strategy_counts(result, roots, owners)
    finally:
        gc.unfreeze()
        writer.close()
    count = len(result.numbers)
    duplicate_groups = sum(1 for size in group_size.values() if size > 1)
    job.rows_total = result.rows
    job.rows_valid = count
    job.rows_invalid = result.invalid
    job.analysis = {
        "rows": result.rows,
        "valid": count,
        "invalid": result.invalid,
        "invalid_reasons": sorted(result.reasons.items(), key=lambda item: -item[1])[:10],
        "duplicate_groups": duplicate_groups,
        "rows_in_duplicate_groups": sum(size for size in group_size.values() if size > 1),
        "matching_rows": matching_rows,
        "matching_persons": len(set(owners.values())),
        "discard": {**discard, "invalid": result.invalid},
        "resolve": {**resolve, "invalid": result.invalid},
        "sample": result.sample,
        "mapping": job.mapping,
        "seconds": round(time.monotonic() - started, 2),
    }
    job.status = ImportStatus.ANALYZED
    job.analyzed_at = timezone.now()
    job.error = ""
    job.save()


def _stage(job: ImportJob, parsed_rows: Iterator[parallel.Result], result: Analysis, writer: progress.Writer) -> array:
    """COPY the problems of invalid rows and the valid ones with their duplicate group (rows sharing a phone, an
    email or an externalId, transitively); returns each valid row's group root."""
    # Staged data waits in a temporary file (not in memory) until the duplicate groups are known.
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", newline="\n") as staged_file:

        def issues() -> Iterator[tuple]:
            pending: list[str] = []  # staged lines, written a thousand at a time
            numbers, add = result.numbers, result.add
            for number, cells, line, keys in parsed_rows:
                result.rows += 1
                if not result.rows % PROGRESS_ROWS:
                    writer.update(result.rows)
                    staged_file.writelines(pending)
                    pending.clear()
                if line is None:
                    result.invalid += 1
                    for problem in keys:
                        label = f"{problem.column or 'row'}: {QUOTED.sub('…', problem.reason)}"[:120]
                        result.reasons[label] = result.reasons.get(label, 0) + 1
                    yield from issue_rows(job.pk, IssueKind.INVALID, number, cells, keys)
                    continue
                # COPY's text format as it stays: JSON has no raw tab or newline, only its backslashes to double.
                pending.append((line.replace("\\", "\\\\") if "\\" in line else line) + "\n")
                numbers.append(number)
                add(keys)
                if len(result.sample) < SAMPLE_ROWS:
                    result.sample.append({"row": number, "cells": display_row(json.loads(line))})
            staged_file.writelines(pending)

        copy_rows("imports_importissue", ISSUE_COLUMNS, issues())
        writer.update(result.rows, "grouping")
        count = len(result.numbers)
        # Duplicate groups inside the file: rows sharing a phone, an email or an externalId, transitively.
        groups = UnionFind(count)
        for index in range(count):
            for key_id in result.keys_of(index):
                holder = result.key_first[key_id]
                if holder != index:
                    groups.union(holder, index)
        roots = array("q", (groups.find(i) for i in range(count)))
        del groups
        staged_file.seek(0)
        numbers, prefix = result.numbers, f"{job.pk}\t"

        def chunks() -> Iterator[str]:
            lines: list[str] = []
            for i, line in enumerate(staged_file):  # each line ends with its newline
                lines.append(f"{prefix}{numbers[i]}\t{numbers[roots[i]]}\t{line}")
                if len(lines) == PROGRESS_ROWS:
                    yield "".join(lines)
                    lines.clear()
            if lines:
                yield "".join(lines)

        copy_text("imports_importrow", ["job_id", "row", "grp", "data"], chunks())

    return roots


def _strategy_counts(result: Analysis, roots: array, owners: dict[str, int]) -> tuple[dict, int, dict, dict]:
    """Existing persons holding any of the keys, and what each strategy would do with them:
    (group sizes, rows matching a person, DISCARD's counts, RESOLVE's counts)."""
    count = len(result.numbers)
    key_owner = {result.key_ids[key]: person_id for key, person_id in owners.items()}
    group_persons: dict[int, set[int]] = {}
    group_size: dict[int, int] = {}
    matching_rows = 0
    discard = {"created": 0, "discarded": 0}
    for index in range(count):
        root = roots[index]
        group_size[root] = group_size.get(root, 0) + 1
        persons = {key_owner[k] for k in result.keys_of(index) if k in key_owner}
        if persons:
            matching_rows += 1
            group_persons.setdefault(root, set()).update(persons)
        if root == index:
            discard["discarded" if persons else "created"] += 1
        else:
            discard["discarded"] += 1
    # RESOLVE: groups touching the same person become one person too.
    components = UnionFind(count)
    person_group: dict[int, int] = {}
    for root, persons in group_persons.items():
        for person_id in persons:
            other = person_group.setdefault(person_id, root)
            if other != root:
                components.union(other, root)
    resolve = {"created": 0, "updated": 0, "merged": 0, "persons_merged": 0}
    component_persons: dict[int, set[int]] = {}
    component_rows: dict[int, int] = {}
    for root, size in group_size.items():
        top = components.find(root)
        component_rows[top] = component_rows.get(top, 0) + size
        component_persons.setdefault(top, set()).update(group_persons.get(root, ()))
    for top, size in component_rows.items():
        persons = component_persons[top]
        resolve["updated" if persons else "created"] += 1
        resolve["merged"] += size - 1
        resolve["persons_merged"] += max(len(persons) - 1, 0)

    return group_size, matching_rows, discard, resolve


def display_row(data: dict[str, Any]) -> list[list[Any]]:
    """A staged row as [API field name, value] pairs in the mapping's field order (jsonb would reorder a dict)."""
    cells: list[list[Any]] = [[API_NAME.get(k, k), v] for k, v in data.get("a", {}).items()]
    for key, name in (("p", "phone"), ("e", "email"), ("t", "tags")):
        if data.get(key):
            cells.append([name, ", ".join(data[key])])
    cells += [[f"{mapping_rules.CUSTOM_PREFIX}{name}", value] for name, value in data.get("c", {}).items()]
    if data.get("co"):
        cells.append(["company", data["co"]])
    return cells
