from django.db import migrations

# Contacts, channel profiles and events carry their person's realm (so uniqueness can be per realm).
# A composite foreign key makes it impossible for them to disagree with their person's realm.
COMPOSITE_FKS = [
    ("people_personphone", "personphone_person_realm_fk"),
    ("people_personemail", "personemail_person_realm_fk"),
    ("people_channelprofile", "channelprofile_person_realm_fk"),
    ("people_personevent", "personevent_person_realm_fk"),
]

forward = [
    f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (person_id, realm_id) "
    f"REFERENCES people_person (id, realm_id) ON DELETE CASCADE"
    for table, name in COMPOSITE_FKS
]
backward = [f"ALTER TABLE {table} DROP CONSTRAINT {name}" for table, name in COMPOSITE_FKS]


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]

    operations = [
        migrations.RunSQL(forward, backward),
        # "Filter by tag" walks the tag's persons newest first: (tag_id, person_id) serves it without a sort.
        migrations.RunSQL(
            "CREATE INDEX person_tags_tag_person ON people_person_tags (tag_id, person_id)",
            "DROP INDEX person_tags_tag_person",
        ),
    ]
