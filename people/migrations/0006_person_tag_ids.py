"""people_person.tag_ids: the ids of a person's tags, kept by the database itself, with a GIN index.

The persons list filters by tag (`{"#contains": {"tags": "VIP"}}`) together with other conditions. Through the
link table PostgreSQL has to read every link of the tag and every person matching the other conditions and
join them (~4 ms at 100,000 persons for a common tag and a last-name prefix). With the tag ids on the person
row, a GIN index on them and the other condition's index combine in one bitmap (BitmapAnd): ~1 ms.

The column is not a model field: Django never reads or writes it (a save() can't overwrite it with a stale
value). Statement-level triggers on people_person_tags recompute it for every person whose links an INSERT,
UPDATE or DELETE touched, whatever wrote them (the ORM's add/remove/set/clear, cascades of a tag's or a
person's deletion, merges, COPY in people.seeding). people.filtering.PersonHasTagId reads it.
"""

from django.db import migrations

REFRESH = """
UPDATE people_person p
SET tag_ids = coalesce((SELECT array_agg(l.tag_id ORDER BY l.tag_id) FROM people_person_tags l
                        WHERE l.person_id = p.id), '{}')
WHERE p.id IN (SELECT person_id FROM %s)
"""

FORWARD = [
    "ALTER TABLE people_person ADD COLUMN tag_ids bigint[] NOT NULL DEFAULT '{}'",
    """
    UPDATE people_person p SET tag_ids = links.ids
    FROM (SELECT person_id, array_agg(tag_id ORDER BY tag_id) AS ids FROM people_person_tags GROUP BY person_id) links
    WHERE links.person_id = p.id
    """,
    "CREATE INDEX person_tag_ids ON people_person USING gin (tag_ids)",
    f"""
    CREATE FUNCTION people_person_tag_ids_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            {REFRESH % "new_links"};
        END IF;
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            {REFRESH % "old_links"};
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER person_tag_ids_insert AFTER INSERT ON people_person_tags
    REFERENCING NEW TABLE AS new_links FOR EACH STATEMENT EXECUTE FUNCTION people_person_tag_ids_refresh()
    """,
    """
    CREATE TRIGGER person_tag_ids_update AFTER UPDATE ON people_person_tags
    REFERENCING NEW TABLE AS new_links OLD TABLE AS old_links
    FOR EACH STATEMENT EXECUTE FUNCTION people_person_tag_ids_refresh()
    """,
    """
    CREATE TRIGGER person_tag_ids_delete AFTER DELETE ON people_person_tags
    REFERENCING OLD TABLE AS old_links FOR EACH STATEMENT EXECUTE FUNCTION people_person_tag_ids_refresh()
    """,
]
BACKWARD = [
    "DROP TRIGGER person_tag_ids_delete ON people_person_tags",
    "DROP TRIGGER person_tag_ids_update ON people_person_tags",
    "DROP TRIGGER person_tag_ids_insert ON people_person_tags",
    "DROP FUNCTION people_person_tag_ids_refresh()",
    "ALTER TABLE people_person DROP COLUMN tag_ids",
]


class Migration(migrations.Migration):
    dependencies = [("people", "0005_duplicate_scan_schedule")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
