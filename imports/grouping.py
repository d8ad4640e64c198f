"""Matching file rows to each other and to existing persons: keys, owners, duplicate groups, row ranges."""

from __future__ import annotations

import logging
from array import array
from collections.abc import Iterable

from django.db import connection

log = logging.getLogger(__name__)
LOOKUP_CHUNK = 20_000
PROBES = {  # does the realm hold any phone, email, person (externalId) at all
    "p": "SELECT EXISTS (SELECT 1 FROM people_personphone WHERE realm_id = %s)",
    "e": "SELECT EXISTS (SELECT 1 FROM people_personemail WHERE realm_id = %s)",
    "x": "SELECT EXISTS (SELECT 1 FROM people_person WHERE realm_id = %s)",
}


def describe_key(key: str) -> str:
    kind, _, value = key.partition(":")
    return {"p": "phone", "e": "email", "x": "externalId"}[kind] + f" {value}"


def row_ranges(numbers: Iterable[int]) -> list[list[int]]:
    """[2, 3, 4, 7] → [[2, 4], [7, 7]]"""
    out: list[list[int]] = []
    for n in sorted(numbers):
        if out and n == out[-1][1] + 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return out


def ranges_text(ranges: list[list[int]]) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in ranges)


def key_owners(realm_id: int, keys: Iterable[str]) -> dict[str, int]:
    """key (`p:…`, `e:…` lower-cased, `x:…`) → id of the active person holding it, in bulk."""
    phones, emails, externals = [], [], []
    for key in keys:
        kind, _, value = key.partition(":")
        (phones if kind == "p" else emails if kind == "e" else externals).append(value)
    found: dict[str, int] = {}
    # The keys travel as an array the planner cannot look into (an InitPlan), so it plans index probes however
    # many there are. Given a visible list of 10,000 phones it costed the probes above a parallel sequential
    # scan of the whole contact table: beside 1,000,000 persons every batch's lookup read all of them (130-380 ms
    # a query instead of 50-70 ms, growing with the table; tests/imports/test_key_owners.py).
    queries = (
        (
            "p",
            phones,
            "SELECT number, person_id FROM people_personphone "
            "WHERE realm_id = %s AND number = ANY((SELECT %s::text[])::text[])",
        ),
        (
            "e",
            emails,
            "SELECT lower(address), person_id FROM people_personemail "
            "WHERE realm_id = %s AND lower(address) = ANY((SELECT %s::text[])::text[])",
        ),
        (
            "x",
            externals,
            # An absorbed person's externalId leads to its survivor, as everywhere else.
            "SELECT external_id, COALESCE(merged_into_id, id) FROM people_person "
            "WHERE realm_id = %s AND external_id = ANY((SELECT %s::text[])::text[])",
        ),
    )
    with connection.cursor() as cursor:
        for kind, values, sql in queries:
            if not values:
                continue
            # A new realm's first import holds no one: one index probe instead of sending every key.
            cursor.execute(PROBES[kind], [realm_id])
            if not cursor.fetchone()[0]:
                continue
            for start in range(0, len(values), LOOKUP_CHUNK):
                cursor.execute(sql, [realm_id, values[start : start + LOOKUP_CHUNK]])
                for value, person_id in cursor.fetchall():
                    found[f"{kind}:{value}"] = person_id
    return found


class UnionFind:
    """Over dense indexes 0..n-1 (an array, not a list of ints); a set's root is its smallest index."""

    def __init__(self, size: int = 0) -> None:
        self.parent = array("q", range(size))

    def add(self) -> int:
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb
