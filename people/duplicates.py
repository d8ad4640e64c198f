"""Duplicate suggestions: candidate pairs from normalized blocking keys, scored with rapidfuzz on names.

A rescan never compares all pairs. Every person gets a few blocking keys, computed in SQL:

| reason        | key                                                                        | weight |
| ------------- | -------------------------------------------------------------------------- | ------ |
| `name`        | last name + first initial (letters only, accents folded, lower case);      | 20     |
|               | a block above the cap is split by the full first name                      |        |
| `birth_date`  | birth date + first initial                                                 | 20     |
| `external_id` | externalId without case, whitespace or punctuation ("AB-12" ~ "ab 12")     | 60     |
| `email`       | local part without dots and +suffix, lower case, @ domain                  | 50     |
| `phone`       | the last 7 digits, then checked: equal national number, other country code | 60     |

Only persons sharing a key are paired, and a block larger than `BLOCK_CAP` persons is skipped (a key that
common says nothing: "Smith J" in a million profiles). The pairs land in a temporary table, are grouped per
pair (all its reasons) and streamed to Python with a server-side cursor, where the score is
`sum of the reasons' weights + name similarity / 2`, clamped to 0..100 (`rapidfuzz` token_sort_ratio on the
folded names; 50 when a name is missing). A reason holds for the pair whichever key found it: the name
key and the birth dates are compared for every pair; equal birth dates count as the `birth_date` reason,
two different ones subtract 30 (two "Ana Horvat" born years apart are two people). Pairs scoring
`MIN_SCORE` or more become open suggestions; pairs staff marked "not a duplicate" (`NotDuplicate`) never
come back. Memory stays bounded: only one batch of pairs and of accepted candidates is held at a time.
"""

from __future__ import annotations

import json
import logging
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import phonenumbers
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from rapidfuzz import fuzz

from core.bulk import statistics_refresh
from core.errors import ValidationError
from people.models import (
    DuplicateCandidate,
    DuplicateScan,
    DuplicateScanStatus,
    DuplicateStatus,
    NotDuplicate,
    Person,
)

logger = logging.getLogger(__name__)

BLOCK_CAP = 50
MIN_SCORE = 65
WEIGHTS = {"external_id": 60, "phone": 60, "email": 50, "birth_date": 20, "name": 20, "birth_date_differs": -30}
REASON_LABELS = {
    "birth_date_differs": "different birth dates",
    "external_id": "same externalId in another form",
    "phone": "same phone number with another country prefix",
    "email": "similar email",
    "birth_date": "same birth date and first initial",
    "name": "same last name and first initial",
}
PHONE_SUFFIX_DIGITS = 7
FETCH_BATCH = 20_000
# What the rescan's plans read: a new database has no statistics for them (the temporary tables it analyzes
# itself, once filled: autovacuum never analyzes those).
STATISTICS_TABLES = (
    "people_person", "people_personphone", "people_personemail", "people_duplicatecandidate", "people_notduplicate",
)  # fmt: skip
ADVISORY_NAMESPACE = 61_006  # pg_advisory_xact_lock(namespace, realm id): one rescan per realm at a time

MSG_SAME_PERSON = "A person cannot be a duplicate of itself."
MSG_OTHER_REALM = "Both persons must belong to the same realm."

# Accents folded in SQL the way unicodedata folds them in Python (translate() maps one character to one).
_ACCENTED = "ÀÁÂÃÄÅàáâãäåÇçĆćČčĐđÈÉÊËèéêëÌÍÎÏìíîïŁłÑñŃńÒÓÔÕÖØòóôõöøŠšŚśÙÚÛÜùúûüÝýÿŽžŹźŻżß"
_PLAIN = "AAAAAAaaaaaaCcCcCcDdEEEEeeeeIIIIiiiiLlNnNnOOOOOOooooooSsSsUUUUuuuuYyyZzZzZzs"
assert len(_ACCENTED) == len(_PLAIN)


def _fold_sql(column: str) -> str:
    return f"regexp_replace(lower(translate({column}, '{_ACCENTED}', '{_PLAIN}')), '[^a-z]', '', 'g')"


@lru_cache(maxsize=300_000)
def fold_name(name: str) -> str:
    """Lower case, accents removed, single spaces: what names are compared on."""
    decomposed = unicodedata.normalize("NFKD", name.replace("ß", "ss").replace("đ", "d").replace("Đ", "D"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return " ".join("".join(ch if ch.isalpha() else " " for ch in plain).split())


def name_similarity(a: str, b: str) -> float | None:
    """0..100, or None when either name is missing."""
    fa, fb = fold_name(a), fold_name(b)
    if not fa or not fb:
        return None
    return fuzz.token_sort_ratio(fa, fb)


def email_key(address: str) -> str:
    """jane.smith+news@X.com → janesmith@x.com (the SQL key below computes the same)."""
    local, _, domain = address.lower().rpartition("@")
    return local.split("+", 1)[0].replace(".", "") + "@" + domain


def external_id_key(value: str) -> str:
    return "".join(ch for ch in value.lower() if ch.isalnum())


def phone_national_number(number: str) -> tuple[int, str] | None:
    """(country code, national significant number) of an international number in digits, or None."""
    try:
        parsed = phonenumbers.parse("+" + number, None)
    except phonenumbers.NumberParseException:
        return None
    return parsed.country_code, phonenumbers.national_significant_number(parsed)


def pair_score(name_a: str, name_b: str, codes: set[str]) -> int:
    similarity = name_similarity(name_a, name_b)
    evidence = sum(WEIGHTS[code] for code in codes)
    return max(0, min(100, round(evidence + (50 if similarity is None else similarity) / 2)))


@dataclass
class Found:
    person_a: int
    person_b: int
    score: int
    reasons: list[dict[str, str]]


@dataclass
class ScanStats:
    persons: int = 0
    pairs: int = 0
    pairs_by_reason: dict[str, int] = field(default_factory=dict)
    skipped_blocks: dict[str, int] = field(default_factory=dict)
    skipped_persons: dict[str, int] = field(default_factory=dict)
    candidates: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "persons": self.persons,
            "pairs": self.pairs,
            "pairs_by_reason": self.pairs_by_reason,
            "skipped_blocks": self.skipped_blocks,
            "skipped_persons": self.skipped_persons,
            "candidates": self.candidates,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


# ---------------------------------------------------------------------------------------------- finding


def _prepare_persons(cursor, realm_id: int, person_ids: list[int] | None) -> int:
    only = "AND id IN (SELECT unnest(%s::bigint[]))" if person_ids is not None else ""
    params: list[Any] = [realm_id] + ([person_ids] if person_ids is not None else [])
    cursor.execute("DROP TABLE IF EXISTS dup_persons, dup_pairs, dup_found, dup_keys")
    cursor.execute(
        f"""
        CREATE TEMP TABLE dup_persons ON COMMIT DROP AS
        SELECT id, first_name, last_name, birth_date, external_id,
               {_fold_sql("first_name")} AS first_fold, {_fold_sql("last_name")} AS last_fold
        FROM people_person
        WHERE realm_id = %s AND merged_into_id IS NULL {only}
        """,  # noqa: S608 - constant fragments; values are parameters
        params,
    )
    count = cursor.rowcount
    # Indexed, so that a plan joining it row by row (the planner may believe a realm's contacts few: statistics
    # taken before the realm's first persons came know no rows of it) looks each person up instead of reading
    # the whole table for every contact.
    cursor.execute("CREATE UNIQUE INDEX dup_persons_id ON dup_persons (id)")
    cursor.execute("CREATE TEMP TABLE dup_pairs (a bigint, b bigint, code text, detail text) ON COMMIT DROP")
    cursor.execute("ANALYZE dup_persons")
    return count


def _block(cursor, code: str, keyed_sql: str, realm_id: int, cap: int, stats: ScanStats) -> None:
    """Pair the persons sharing a key (`keyed_sql` yields id, key, detail) in blocks of 2..cap persons.

    Keys read from a contact table (``CONTACT_KEYS``: their SQL takes the realm's id) go through a temporary
    table analyzed once filled: the planner's guess of how many contacts a realm has comes from statistics that
    may predate the realm's first persons (a new realm beside others: "about one row"), and the pairs'
    self-join would then compare every key with every other."""
    source = f"({keyed_sql}) s"
    if code in CONTACT_KEYS:
        cursor.execute(
            f"CREATE TEMP TABLE dup_keys ON COMMIT DROP AS SELECT id, key, detail FROM {source} "  # noqa: S608
            "WHERE key IS NOT NULL AND key <> ''",
            [realm_id],
        )
        cursor.execute("ANALYZE dup_keys")
        source = "dup_keys s"
    cursor.execute(
        f"""
        WITH k AS MATERIALIZED (
            SELECT id, key, detail, count(*) OVER (PARTITION BY key) AS n
            FROM {source} WHERE key IS NOT NULL AND key <> ''
        ), ins AS (
            INSERT INTO dup_pairs (a, b, code, detail)
            SELECT x.id, y.id, %s,
                   CASE WHEN x.detail IS NULL THEN NULL ELSE x.detail || ' ~ ' || y.detail END
            FROM k x JOIN k y ON x.key = y.key AND x.id < y.id
            WHERE x.n BETWEEN 2 AND %s
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM ins),
               (SELECT count(DISTINCT key) FROM k WHERE n > %s),
               (SELECT count(*) FROM k WHERE n > %s)
        """,  # noqa: S608 - KEY_QUERIES are constants; values are parameters
        [code, cap, cap, cap],
    )
    pairs, blocks, persons = cursor.fetchone()
    if code in CONTACT_KEYS:
        cursor.execute("DROP TABLE dup_keys")
    stats.pairs_by_reason[code] = stats.pairs_by_reason.get(code, 0) + pairs
    stats.skipped_blocks[code] = stats.skipped_blocks.get(code, 0) + blocks
    stats.skipped_persons[code] = stats.skipped_persons.get(code, 0) + persons


def _phone_pairs(cursor, realm_id: int, cap: int, stats: ScanStats) -> None:
    """Numbers ending alike are blocked in SQL; Python keeps the pairs with one national number and two
    country codes (385 91 123 4567 typed as 49 91 123 4567)."""
    cursor.execute(
        f"""
        SELECT array_agg(ph.person_id), array_agg(ph.number)
        FROM people_personphone ph JOIN dup_persons p ON p.id = ph.person_id
        WHERE ph.realm_id = %s
        GROUP BY right(ph.number, {PHONE_SUFFIX_DIGITS})
        HAVING count(DISTINCT ph.person_id) BETWEEN 2 AND %s
        """,  # noqa: S608 - a constant; values are parameters
        [realm_id, cap],
    )
    rows = []
    for person_ids, numbers in cursor.fetchall():
        parsed = [phone_national_number(n) for n in numbers]
        for i in range(len(numbers)):
            for j in range(i + 1, len(numbers)):
                if person_ids[i] == person_ids[j] or not parsed[i] or not parsed[j]:
                    continue
                (cc_i, nsn_i), (cc_j, nsn_j) = parsed[i], parsed[j]
                if nsn_i == nsn_j and cc_i != cc_j:
                    a, b = sorted([(person_ids[i], numbers[i]), (person_ids[j], numbers[j])])
                    rows.append((a[0], b[0], "phone", f"{a[1]} ~ {b[1]}"))
    if rows:
        cursor.executemany("INSERT INTO dup_pairs (a, b, code, detail) VALUES (%s, %s, %s, %s)", rows)
    stats.pairs_by_reason["phone"] = len(rows)


# (reason, SQL yielding id, key, detail over dup_persons): constant fragments, every value is a parameter. The
# contact tables hold every realm's rows: filtered by the realm before any key is computed, so a rescan costs
# what its own realm holds (without it, the email key was computed for every address of the database).
KEY_QUERIES = [
    ("name", "SELECT id, last_fold || '|' || left(first_fold, 1) AS key, NULL AS detail "
             "FROM dup_persons WHERE last_fold <> '' AND first_fold <> ''"),
    # Common last name + initial blocks are skipped by the one above; the full first name splits them here.
    ("name", "SELECT id, last_fold || '|' || first_fold AS key, NULL AS detail "
             "FROM dup_persons WHERE last_fold <> '' AND first_fold <> ''"),
    ("birth_date", "SELECT id, birth_date::text || '|' || left(first_fold, 1) AS key, birth_date::text AS detail "
                   "FROM dup_persons WHERE birth_date IS NOT NULL"),
    ("external_id", "SELECT id, lower(regexp_replace(external_id, '[^[:alnum:]]', '', 'g')) AS key, "
                    "external_id AS detail FROM dup_persons WHERE external_id IS NOT NULL"),
    ("email", "SELECT e.person_id AS id, replace(split_part(split_part(lower(e.address), '@', 1), '+', 1), '.', '') "
              "|| '@' || split_part(lower(e.address), '@', 2) AS key, e.address AS detail "
              "FROM people_personemail e JOIN dup_persons p ON p.id = e.person_id WHERE e.realm_id = %s"),
]  # fmt: skip
CONTACT_KEYS = frozenset({"email"})  # the KEY_QUERIES that read a contact table, filtered by the realm's id


def _collect_pairs(cursor, realm_id: int, cap: int, stats: ScanStats) -> None:
    for code, keyed_sql in KEY_QUERIES:
        timer = time.monotonic()
        _block(cursor, code, keyed_sql, realm_id, cap, stats)
        stats.seconds[code] = stats.seconds.get(code, 0) + time.monotonic() - timer
    timer = time.monotonic()
    _phone_pairs(cursor, realm_id, cap, stats)
    stats.seconds["phone"] = time.monotonic() - timer
    timer = time.monotonic()
    cursor.execute("ANALYZE dup_pairs")  # a temporary table is never analyzed by autovacuum
    stats.seconds["analyze_pairs"] = time.monotonic() - timer


STREAM_SQL = """
    SELECT g.a, g.b, g.codes, g.details, pa.first_name, pa.last_name, pb.first_name, pb.last_name,
           pa.birth_date, pb.birth_date, pa.last_fold, pa.first_fold, pb.last_fold, pb.first_fold
    FROM (SELECT a, b, array_agg(code) AS codes, array_agg(detail) AS details FROM dup_pairs GROUP BY a, b) g
    JOIN dup_persons pa ON pa.id = g.a
    JOIN dup_persons pb ON pb.id = g.b
    WHERE NOT EXISTS (
        SELECT 1 FROM people_notduplicate nd WHERE nd.person_a_id = g.a AND nd.person_b_id = g.b
    )
"""  # every pair with all its reasons and both persons, without the "not a duplicate" ones


def _stream_scored(min_score: int, stats: ScanStats, on_batch: Callable[[int], None] | None = None) -> Iterator[Found]:
    """Group the pairs (all reasons of a pair together), drop remembered "not a duplicate" pairs, score.

    The pairs arrive in batches of FETCH_BATCH; ``on_batch(pairs so far)`` is called once a batch's pairs have
    all been scored (and their suggestions taken by the consumer). The first fetch waits for the grouping
    (seconds "group"); "fetch" sums every fetch's wait for the server."""
    with connection.connection.cursor(name="dup_stream") as stream:
        stream.itersize = FETCH_BATCH
        stream.execute(STREAM_SQL)
        stats.seconds.setdefault("fetch", 0.0)
        while True:
            timer = time.monotonic()
            rows = stream.fetchmany(FETCH_BATCH)
            waited = time.monotonic() - timer
            stats.seconds.setdefault("group", waited)
            stats.seconds["fetch"] += waited
            if not rows:
                return
            yield from _scored(rows, min_score, stats)
            if on_batch:
                on_batch(stats.pairs)


def _scored(rows: list[tuple], min_score: int, stats: ScanStats) -> Iterator[Found]:
    """The pairs of ``rows`` (as the stream selects them) that score ``min_score`` or more."""
    for row in rows:
        a, b, codes, details, first_a, last_a, first_b, last_b, born_a, born_b, lf_a, ff_a, lf_b, ff_b = row
        stats.pairs += 1
        # Reasons belong to the pair, whichever block found it (a block over the cap finds nothing).
        if "name" not in codes and lf_a and ff_a and lf_a == lf_b and ff_a[:1] == ff_b[:1]:
            codes.append("name")
            details.append(None)
        if born_a and born_b:
            codes.append("birth_date" if born_a == born_b else "birth_date_differs")
            details.append(str(born_a) if born_a == born_b else f"{born_a} / {born_b}")
        reasons = set(codes)
        score = pair_score(f"{first_a} {last_a}", f"{first_b} {last_b}", reasons)
        if score < min_score:
            continue
        seen: dict[str, dict[str, str]] = {}
        for code, detail in zip(codes, details, strict=True):
            if code not in seen:
                seen[code] = {"code": code, "label": REASON_LABELS[code], "detail": detail or ""}
        ordered = sorted(seen.values(), key=lambda r: -WEIGHTS[r["code"]])
        yield Found(a, b, score, ordered)


def duplicates_find(
    *, realm, person_ids: list[int] | None = None, cap: int = BLOCK_CAP, min_score: int = MIN_SCORE
) -> tuple[list[Found], ScanStats]:
    """The candidate pairs of a realm (or of `person_ids` in it), without storing them. Reads only; for small
    sets and benchmarks. `duplicates_rescan` stores them for a whole realm with bounded memory."""
    stats = ScanStats()
    with transaction.atomic(), connection.cursor() as cursor:
        stats.persons = _prepare_persons(cursor, realm.pk, person_ids)
        _collect_pairs(cursor, realm.pk, cap, stats)
        found = list(_stream_scored(min_score, stats))
        transaction.set_rollback(True)
    stats.candidates = len(found)
    return found, stats


# ------------------------------------------------------------------------------------------------ services


def duplicates_rescan(
    *,
    realm,
    scan: DuplicateScan | None = None,
    cap: int = BLOCK_CAP,
    min_score: int = MIN_SCORE,
    progress: Callable[[int], None] | None = None,
):
    """Recompute the open suggestions of a realm in one transaction. Returns ScanStats, or None when another
    rescan of the realm holds the lock. Dismissed pairs stay dismissed; suggestions no longer found go.

    ``progress(pairs scored so far)`` is called after every batch of FETCH_BATCH pairs (benchmarks time the
    batches with it); ``ScanStats.seconds`` holds each phase's seconds."""
    stats = ScanStats()
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [ADVISORY_NAMESPACE, realm.pk])
        if not cursor.fetchone()[0]:
            return None
        timer = time.monotonic()
        statistics_refresh(STATISTICS_TABLES)
        stats.seconds["statistics"] = time.monotonic() - timer
        timer = time.monotonic()
        stats.persons = _prepare_persons(cursor, realm.pk, None)
        stats.seconds["prepare"] = time.monotonic() - timer
        _collect_pairs(cursor, realm.pk, cap, stats)
        timer = time.monotonic()
        cursor.execute("CREATE TEMP TABLE dup_found (a bigint, b bigint, score smallint, reasons jsonb) ON COMMIT DROP")
        batch: list[tuple] = []

        def flush():
            with cursor.cursor.copy("COPY dup_found (a, b, score, reasons) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
            stats.candidates += len(batch)
            batch.clear()

        for found in _stream_scored(min_score, stats, progress):
            batch.append((found.person_a, found.person_b, found.score, json.dumps(found.reasons)))
            if len(batch) >= FETCH_BATCH:
                flush()
        flush()
        stats.seconds["score"] = time.monotonic() - timer
        timer = time.monotonic()
        now = timezone.now()
        scan_id = scan.pk if scan else None
        cursor.execute(
            """
            INSERT INTO people_duplicatecandidate
                (realm_id, person_a_id, person_b_id, score, reasons, status, scan_id, created, modified)
            SELECT %s, a, b, score, reasons, 'open', %s, %s, %s FROM dup_found
            ON CONFLICT ON CONSTRAINT duplicate_candidate_pair DO UPDATE SET
                score = EXCLUDED.score, reasons = EXCLUDED.reasons, scan_id = EXCLUDED.scan_id,
                modified = EXCLUDED.modified,
                status = CASE WHEN people_duplicatecandidate.status = 'dismissed' THEN 'dismissed' ELSE 'open' END
            """,
            [realm.pk, scan_id, now, now],
        )
        stats.seconds["insert"] = time.monotonic() - timer
        deleted = time.monotonic()
        cursor.execute(
            "DELETE FROM people_duplicatecandidate WHERE realm_id = %s AND status = 'open' AND modified < %s",
            [realm.pk, now],
        )
        stats.seconds["delete"] = time.monotonic() - deleted
        stats.seconds["store"] = time.monotonic() - timer
    stats.seconds["total"] = time.monotonic() - started
    return stats


def duplicate_scan_request(*, realm, started_by: str) -> DuplicateScan:
    """Queue a rescan of `realm` for a worker (the admin button and the nightly schedule)."""
    from django_q.tasks import async_task

    with transaction.atomic():
        scan = DuplicateScan.objects.create(realm=realm, started_by=started_by)
        # After commit: with a Redis broker the task could otherwise run before the row exists.
        transaction.on_commit(
            lambda: async_task(
                "people.tasks.duplicate_scan_run", scan.pk, group="duplicates", cluster=settings.Q_INTERACTIVE_CLUSTER
            )
        )
    return scan


def duplicate_scan_run(*, scan: DuplicateScan) -> DuplicateScan:
    """Run a queued scan: its status row is updated before and after (visible while it runs); the rescan
    itself is one transaction. Safe to call twice: only a queued (or interrupted running) scan runs."""
    claimed = DuplicateScan.objects.filter(
        pk=scan.pk, status__in=[DuplicateScanStatus.QUEUED, DuplicateScanStatus.RUNNING]
    ).update(status=DuplicateScanStatus.RUNNING, started_at=timezone.now())
    scan.refresh_from_db()
    if not claimed:
        return scan
    try:
        stats = duplicates_rescan(realm=scan.realm, scan=scan)
    except Exception as exc:
        logger.exception("duplicate scan %s failed", scan.pk)
        scan.status, scan.error = DuplicateScanStatus.FAILED, f"{type(exc).__name__}: {exc}"
    else:
        if stats is None:
            scan.status = DuplicateScanStatus.SKIPPED
        else:
            scan.status, scan.counts = DuplicateScanStatus.SUCCEEDED, stats.as_dict()
    scan.finished_at = timezone.now()
    scan.save(update_fields=["status", "error", "counts", "finished_at"])
    return scan


def _ordered(person_a: Person, person_b: Person) -> tuple[Person, Person]:
    if person_a.pk == person_b.pk:
        raise ValidationError.single("persons", MSG_SAME_PERSON)
    if person_a.realm_id != person_b.realm_id:
        raise ValidationError.single("persons", MSG_OTHER_REALM)
    return (person_a, person_b) if person_a.pk < person_b.pk else (person_b, person_a)


def duplicate_dismiss(*, person_a: Person, person_b: Person, actor: str = "") -> NotDuplicate:
    """Remember that two persons are different customers: the pair is never suggested again."""
    first, second = _ordered(person_a, person_b)
    with transaction.atomic():
        decision, _ = NotDuplicate.objects.get_or_create(
            person_a=first, person_b=second, defaults={"realm_id": first.realm_id, "decided_by": actor}
        )
        DuplicateCandidate.objects.filter(person_a=first, person_b=second).update(
            status=DuplicateStatus.DISMISSED, modified=timezone.now()
        )
    return decision


def duplicates_of_person(person: Person, *, limit: int = 20) -> list[tuple[DuplicateCandidate, Person]]:
    """Open suggestions involving `person`, best first, with the other (active) person of each pair."""
    candidates = list(
        DuplicateCandidate.objects.filter(Q(person_a=person) | Q(person_b=person), status=DuplicateStatus.OPEN)
        .select_related("person_a", "person_b")
        .order_by("-score", "pk")[: limit * 2]
    )
    pairs = []
    for candidate in candidates:
        other = candidate.person_b if candidate.person_a_id == person.pk else candidate.person_a
        if other.merged_into_id is None:
            pairs.append((candidate, other))
    return pairs[:limit]
