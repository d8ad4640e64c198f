"""What the people import holds about a person, for people.erasure: staged rows and the issues of rows that
named an erased person's email, phone (as the file wrote it or as digits) or externalId. Staged rows keep their
JSON as text (imports.models.ImportRow.data): it is cast to jsonb here only, for the rows of the realm's jobs."""

from __future__ import annotations

from django.db import connection

from people.erasure import Erasure

# A row of a job of the realm names the person when one of its cells contains an identifier, or a cell's
# digits are a phone's (national numbers are matched by their last digits: "091 234 5678" for 385912345678).
_ROW_NAMES = """
    (SELECT count(*) FROM jsonb_array_elements_text(
        CASE jsonb_typeof({col}) WHEN 'array' THEN {col} WHEN 'object' THEN
        (SELECT coalesce(jsonb_agg(v), '[]'::jsonb) FROM jsonb_each({col}) e(k, v)) ELSE '[]'::jsonb END) cell
     WHERE cell ILIKE ANY(%(patterns)s)
        OR (length(regexp_replace(cell, '\\D', '', 'g')) >= 6
            AND %(digits)s::text[] && ARRAY[regexp_replace(cell, '\\D', '', 'g'),
                                            right(regexp_replace(cell, '\\D', '', 'g'), 8)])) > 0
"""


def _digits(erasure: Erasure) -> list[str]:
    return sorted({*erasure.phones, *(p[-8:] for p in erasure.phones if len(p) >= 8)})


def import_rows_erase(erasure: Erasure) -> None:
    params = {"realm": erasure.realm.pk, "patterns": erasure.like_patterns(), "digits": _digits(erasure)}
    if not params["patterns"]:
        return
    jobs = "SELECT id FROM imports_importjob WHERE realm_id = %(realm)s"
    with connection.cursor() as cursor:
        # The issues of every row (job, row) that named the person, whichever of its issues names it.
        cursor.execute(
            f"""
            WITH named AS (
                SELECT DISTINCT job_id, row FROM imports_importissue
                 WHERE job_id IN ({jobs})
                   AND (value ILIKE ANY(%(patterns)s) OR reason ILIKE ANY(%(patterns)s)
                        OR regexp_replace(value, '\\D', '', 'g') = ANY(%(digits)s)
                        OR {_ROW_NAMES.format(col='"values"')})
                UNION
                SELECT job_id, row FROM imports_importrow
                 WHERE job_id IN ({jobs}) AND (data ILIKE ANY(%(patterns)s) OR {_ROW_NAMES.format(col="data::jsonb")})
            ), gone_rows AS (
                DELETE FROM imports_importrow r USING named n WHERE r.job_id = n.job_id AND r.row = n.row RETURNING 1
            )
            DELETE FROM imports_importissue i USING named n WHERE i.job_id = n.job_id AND i.row = n.row
            """,  # noqa: S608 - no user input in the SQL text
            params,
        )
        erasure.count("importIssues", cursor.rowcount)
