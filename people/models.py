from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from core.models import Folded, TimeStampedModel

# Length limits from Infobip's IamPersonV2 schema (CONTRACT-NOTES §3/§4).
NAME_MAX = 255
MIDDLE_NAME_MAX = 50
NICK_NAME_MAX = 50  # Infobip's PersonV3 nickName
EXTERNAL_ID_MAX = 256
ADDRESS_MAX = 256
CITY_MAX = 50
COUNTRY_MAX = 50
PROFILE_PICTURE_MAX = 2083
PHONE_MAX = 50
EMAIL_MAX = 255
TAG_NAME_MAX = 256
CUSTOM_ATTRIBUTE_NAME_MAX = 256
CUSTOM_ATTRIBUTE_VALUE_MAX = 4096
CONTACTS_PER_PERSON_MAX = 100


class PersonType(models.TextChoices):
    CUSTOMER = "CUSTOMER", "Customer"
    LEAD = "LEAD", "Lead"


class Gender(models.TextChoices):
    MALE = "MALE", "Male"
    FEMALE = "FEMALE", "Female"


class Origin(models.TextChoices):
    """Infobip's origin enum (OriginV3, a superset of the v2 enum)."""

    API = "API"
    PORTAL = "PORTAL"
    WEB_SDK = "WEB_SDK"
    INTEGRATION = "INTEGRATION"
    PUSH = "PUSH"
    FACEBOOK = "FACEBOOK"
    LINE = "LINE"
    TELEGRAM = "TELEGRAM"
    SALESFORCE = "SALESFORCE"
    DYNAMICS = "DYNAMICS"
    ZAPIER = "ZAPIER"
    FORMS = "FORMS"
    AMS = "AMS"
    COMPUTED = "COMPUTED"
    ANSWERS = "ANSWERS"
    CONVERSATIONS = "CONVERSATIONS"
    IMPORT = "IMPORT"
    INSTAGRAM_DM = "INSTAGRAM_DM"
    FLOW = "FLOW"
    LIVE_CHAT = "LIVE_CHAT"
    VKONTAKTE = "VKONTAKTE"
    ZALO_FOLLOWER = "ZALO_FOLLOWER"
    TIKTOK_BM = "TIKTOK_BM"
    WHATSAPP = "WHATSAPP"
    KAKAO_TALK = "KAKAO_TALK"
    UNKNOWN = "UNKNOWN"


class SyncStatus(models.TextChoices):
    LOCAL = "local", "Local only"  # the realm has no CDP extension: nothing is pushed
    PENDING = "pending", "Waiting to be pushed"
    SYNCED = "synced", "In sync"
    FAILED = "failed", "Failed"


class DataType(models.TextChoices):
    STRING = "STRING"
    DECIMAL = "DECIMAL"
    INTEGER = "INTEGER"
    BOOLEAN = "BOOLEAN"
    DATE = "DATE"
    DATE_TIME = "DATE_TIME"
    LIST_OF_OBJECTS = "LIST_OF_OBJECTS"


class Channel(models.TextChoices):
    """Read-only contact information channels (preview data set by channels and SDKs)."""

    PUSH = "push"
    WEBPUSH = "webpush"
    FACEBOOK = "facebook"
    LINE = "line"
    TELEGRAM = "telegram"
    INSTAGRAM = "instagram"
    INSTAGRAM_DM = "instagramDm"
    TWITTER = "twitter"
    VIBER_BOTS = "viberBots"
    LIVE_CHAT = "liveChat"
    APPLE_BUSINESS_CHAT = "appleBusinessChat"
    KAKAO_SANGDAM = "kakaoSangdam"
    OPEN_CHANNEL = "openChannel"
    WHATSAPP = "whatsapp"
    ZALO_FOLLOWER = "zaloFollower"
    TIKTOK_BM = "tiktokBm"


class SyncStateMixin(models.Model):
    infobip_id = models.BigIntegerField("Infobip id", null=True, blank=True, editable=False)
    sync_status = models.CharField(max_length=10, choices=SyncStatus.choices, default=SyncStatus.LOCAL, editable=False)
    sync_error = models.TextField(blank=True, editable=False)
    synced_at = models.DateTimeField(null=True, blank=True, editable=False)
    infobip_modified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True


class Tag(TimeStampedModel):
    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=TAG_NAME_MAX)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "realm", name="tag_name_unique_ci"),
            models.CheckConstraint(condition=~models.Q(name=""), name="tag_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class CustomAttributeDefinition(TimeStampedModel):
    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="custom_attributes")
    name = models.CharField(max_length=CUSTOM_ATTRIBUTE_NAME_MAX)
    data_type = models.CharField(max_length=20, choices=DataType.choices)
    object_schema = models.JSONField(
        default=dict, blank=True, help_text="LIST_OF_OBJECTS only: field name → data type."
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "custom attribute definition"
        constraints = [
            models.UniqueConstraint(fields=["realm", "name"], name="custom_attribute_name_unique"),
            models.CheckConstraint(condition=~models.Q(name__regex=r"[{}\[\]]"), name="custom_attribute_name_chars"),
            models.CheckConstraint(condition=~models.Q(name=""), name="custom_attribute_name_not_empty"),
            models.CheckConstraint(condition=models.Q(data_type__in=DataType.values), name="custom_attribute_type"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.data_type})"


class PersonQuerySet(models.QuerySet):
    def active(self) -> PersonQuerySet:
        """Persons that are not merged into another one (absorbed persons stay as aliases)."""
        return self.filter(merged_into__isnull=True)

    def for_realms(self, realms) -> PersonQuerySet:
        return self.filter(realm__in=realms)


class Person(TimeStampedModel, SyncStateMixin):
    # No index of its own: person_realm_id (realm, -id) leads with the realm (every index costs every bulk write).
    realm = models.ForeignKey("identities.Realm", on_delete=models.PROTECT, related_name="persons", db_index=False)
    type = models.CharField(max_length=10, choices=PersonType.choices, default=PersonType.CUSTOMER)
    external_id = models.CharField("externalId", max_length=EXTERNAL_ID_MAX, null=True, blank=True)
    first_name = models.CharField(max_length=NAME_MAX, blank=True)
    middle_name = models.CharField(max_length=MIDDLE_NAME_MAX, blank=True)
    last_name = models.CharField(max_length=NAME_MAX, blank=True)
    nick_name = models.CharField("nickname", max_length=NICK_NAME_MAX, blank=True, default="", db_default="")
    converted_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When this Lead became a Customer (a trigger sets it)."
    )
    gender = models.CharField(max_length=6, choices=Gender.choices, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    address = models.CharField(max_length=ADDRESS_MAX, blank=True)
    city = models.CharField(max_length=CITY_MAX, blank=True)
    country = models.CharField(max_length=COUNTRY_MAX, blank=True)
    preferred_language = models.CharField(max_length=10, blank=True)
    profile_picture = models.CharField(max_length=PROFILE_PICTURE_MAX, blank=True)
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.API)
    modified_from = models.CharField(max_length=20, choices=Origin.choices, default=Origin.API)
    custom_attributes = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="persons")
    company = models.ForeignKey(
        "companies.Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="persons"
    )
    merged_into = models.ForeignKey(  # indexed by person_merged_into (the non-null ones only)
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="absorbed", editable=False,
        db_index=False,
    )  # fmt: skip

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("merge_person", "Can merge person profiles"),
            ("erase_person", "Can erase person profiles everywhere (GDPR)"),
        ]
        indexes = [
            # The admin changelist of one realm, newest first; also the realm counts of the dashboard.
            models.Index(fields=["realm", "-id"], name="person_realm_id"),
            # Dashboard "persons added per day" and the sync's modifiedAt ordering.
            models.Index(fields=["created"], name="person_created"),
            # Name search is a prefix search without case or accents (`smi` finds Smith, `juric` finds Jurić):
            # cdp_fold(col) LIKE 'juric%' served by pattern ops on the folded name.
            models.Index(OpClass(Folded("last_name"), name="text_pattern_ops"), name="person_last_name_folded"),
            models.Index(OpClass(Folded("first_name"), name="text_pattern_ops"), name="person_first_name_folded"),
            models.Index(
                fields=["merged_into"], name="person_merged_into", condition=models.Q(merged_into__isnull=False)
            ),
            models.Index(
                fields=["realm", "sync_status"], name="person_sync_pending", condition=~models.Q(sync_status="synced")
            ),
            GinIndex(fields=["custom_attributes"], name="person_custom_attrs", opclasses=["jsonb_path_ops"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["realm", "external_id"],
                name="person_external_id_unique",
                condition=models.Q(external_id__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["realm", "infobip_id"],
                name="person_infobip_id_unique",
                condition=models.Q(infobip_id__isnull=False),
            ),
            # (id, realm) is unique so contacts can reference (person, realm) and never cross realms.
            models.UniqueConstraint(fields=["id", "realm"], name="person_id_realm"),
            models.CheckConstraint(condition=models.Q(type__in=PersonType.values), name="person_type_valid"),
            models.CheckConstraint(condition=models.Q(gender__in=["", *Gender.values]), name="person_gender_valid"),
            models.CheckConstraint(condition=~models.Q(external_id=""), name="person_external_id_not_empty"),
            models.CheckConstraint(
                condition=~models.Q(first_name__regex=r"[&<>\"/\\:(){}=;#\r\n]")
                & ~models.Q(middle_name__regex=r"[&<>\"/\\:(){}=;#\r\n]")
                & ~models.Q(last_name__regex=r"[&<>\"/\\:(){}=;#\r\n]")
                & ~models.Q(nick_name__regex=r"[&<>\"/\\:(){}=;#\r\n]"),
                name="person_name_chars",
            ),
            models.CheckConstraint(
                condition=models.Q(preferred_language="")
                | models.Q(preferred_language__regex=r"^[a-z]{2}(-[A-Za-z]{2})?$"),
                name="person_language_format",
            ),
            models.CheckConstraint(condition=~models.Q(merged_into=models.F("id")), name="person_not_merged_into_self"),
        ]

    def __str__(self) -> str:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or self.external_id or f"Person {self.pk}"

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None


class PersonPhone(models.Model):
    """A phone in international digits without '+' (as Infobip stores them). Unique per realm."""

    # The composite foreign key (person, realm) → person (id, realm) of migration 0002 is this row's integrity:
    # it implies both single ones, so those are not created (each was a per-row check on every bulk write).
    realm = models.ForeignKey(  # indexed by phone_unique_per_realm (realm, number)
        "identities.Realm", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="phones", db_constraint=False)
    number = models.CharField(max_length=PHONE_MAX)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["realm", "number"], name="phone_unique_per_realm"),
            models.CheckConstraint(condition=models.Q(number__regex=r"^[1-9][0-9]{5,18}$"), name="phone_e164_digits"),
        ]
        indexes = [models.Index(OpClass("number", name="varchar_pattern_ops"), name="phone_number_prefix")]

    def __str__(self) -> str:
        return self.number


class PersonEmail(models.Model):
    """An email address, unique per realm compared case-insensitively."""

    # The composite foreign key (person, realm) → person (id, realm) of migration 0002 is this row's integrity:
    # it implies both single ones, so those are not created (each was a per-row check on every bulk write).
    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="emails", db_constraint=False)
    address = models.CharField(max_length=EMAIL_MAX)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(Lower("address"), "realm", name="email_unique_per_realm_ci"),
            models.CheckConstraint(condition=models.Q(address__contains="@"), name="email_has_at"),
        ]
        indexes = [models.Index(OpClass(Lower("address"), name="text_pattern_ops"), name="email_address_prefix")]

    def __str__(self) -> str:
        return self.address


class ChannelProfile(TimeStampedModel):
    """Read-only contact information of a channel (push registration, chat app profile...): preview data only."""

    # The composite foreign key (person, realm) → person (id, realm) of migration 0002 is this row's integrity:
    # it implies both single ones, so those are not created (each was a per-row check on every bulk write).
    realm = models.ForeignKey(  # indexed by channel_profile_unique (realm, …)
        "identities.Realm", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="channel_profiles", db_constraint=False)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    application_id = models.CharField(max_length=255, blank=True)
    identifier = models.CharField(
        max_length=255, blank=True, help_text="registrationId for push/webpush, userId for chat apps."
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["channel", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["realm", "channel", "application_id", "identifier"], name="channel_profile_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel}: {self.identifier or self.application_id}"


class EventDefinition(TimeStampedModel):
    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="event_definitions")
    definition_id = models.CharField("definitionId", max_length=36)
    title = models.CharField(max_length=100)
    description = models.TextField(max_length=2000, blank=True)
    fields = models.JSONField(default=list, blank=True, help_text='[{"name": "price", "type": "Decimal"}, ...]')

    class Meta:
        ordering = ["definition_id"]
        constraints = [
            models.UniqueConstraint(fields=["realm", "definition_id"], name="event_definition_unique"),
            models.CheckConstraint(
                condition=models.Q(definition_id__regex=r"^[a-zA-Z0-9]{1,36}$"), name="event_definition_id_format"
            ),
        ]

    def __str__(self) -> str:
        return self.definition_id


class EventSource(models.TextChoices):
    API = "API"
    ADMIN = "ADMIN"
    IMPORT = "IMPORT"
    SYNC = "SYNC"


class PersonEvent(models.Model):
    # The composite foreign key (person, realm) → person (id, realm) of migration 0002 is this row's integrity:
    # it implies both single ones, so those are not created (each was a per-row check on every bulk write).
    realm = models.ForeignKey(  # indexed by person_event_id_unique (realm, event_id)
        "identities.Realm", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    person = models.ForeignKey(  # indexed by person_event_timeline (person, -occurred_time)
        Person, on_delete=models.CASCADE, related_name="events", db_constraint=False, db_index=False
    )
    definition = models.ForeignKey(EventDefinition, on_delete=models.PROTECT, related_name="events")
    event_id = models.CharField("eventId", max_length=36, help_text="De-duplicates retries, as Infobip's eventId.")
    occurred_time = models.DateTimeField(default=timezone.now)
    properties = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=10, choices=EventSource.choices, default=EventSource.API)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-occurred_time", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["realm", "event_id"], name="person_event_id_unique"),
            models.CheckConstraint(
                condition=models.Q(event_id__regex=r"^[A-Za-z0-9_-]{1,36}$"), name="event_id_format"
            ),
        ]
        indexes = [models.Index(fields=["person", "-occurred_time"], name="person_event_timeline")]

    def __str__(self) -> str:
        return f"{self.definition_id} @ {self.occurred_time:%Y-%m-%d %H:%M}"


class MergeRecord(models.Model):
    """Who merged which profiles, when, with which choices, and a full snapshot of every profile before."""

    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="+")
    survivor = models.ForeignKey(Person, null=True, on_delete=models.SET_NULL, related_name="merge_records")
    absorbed_ids = models.JSONField(default=list)
    actor = models.CharField(max_length=150, blank=True, help_text="Staff user, API key or import job.")
    source = models.CharField(max_length=20, default="admin", help_text="admin, api or import")
    choices = models.JSONField(default=dict, blank=True)
    snapshots = models.JSONField(default=list, blank=True, help_text="Every profile as it was, survivor first.")
    result = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.CharField(max_length=150, blank=True)
    undo_report = models.JSONField(
        default=dict, blank=True, help_text="What the undo kept (changed since the merge) or could not restore."
    )

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["realm", "-created"], name="merge_record_realm_created")]

    def __str__(self) -> str:
        return f"Merge #{self.pk} into person {self.survivor_id}"


class DuplicateStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISMISSED = "dismissed", "Not a duplicate"
    MERGED = "merged", "Merged"


class DuplicateScanStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (another scan of the realm was running)"


class DuplicateScan(models.Model):
    """One rescan of a realm for duplicate suggestions: who asked, its progress and what it found."""

    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=DuplicateScanStatus.choices, default=DuplicateScanStatus.QUEUED)
    started_by = models.CharField(max_length=150, blank=True, help_text="Staff user, or 'schedule' for the nightly.")
    counts = models.JSONField(default=dict, blank=True, help_text="Persons, blocks, pairs, candidates, timings.")
    error = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["realm", "-created"], name="duplicate_scan_realm_created")]

    def __str__(self) -> str:
        return f"Duplicate scan #{self.pk} ({self.status})"


class DuplicateCandidate(models.Model):
    """A pair of persons that may be the same customer; `person_a` is always the lower id."""

    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="+")
    person_a = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    person_b = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField(help_text="0..100: name similarity and the reasons below.")
    reasons = models.JSONField(default=list, blank=True, help_text='[{"code": "email", "detail": "..."}]')
    status = models.CharField(max_length=10, choices=DuplicateStatus.choices, default=DuplicateStatus.OPEN)
    scan = models.ForeignKey(DuplicateScan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(default=timezone.now, editable=False)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-score", "person_a_id", "person_b_id"]
        verbose_name = "duplicate suggestion"
        constraints = [
            models.UniqueConstraint(fields=["person_a", "person_b"], name="duplicate_candidate_pair"),
            models.CheckConstraint(
                condition=models.Q(person_a__lt=models.F("person_b")), name="duplicate_candidate_order"
            ),
            models.CheckConstraint(condition=models.Q(score__lte=100), name="duplicate_candidate_score"),
        ]
        indexes = [
            models.Index(fields=["realm", "status", "-score"], name="duplicate_candidate_list"),
            models.Index(fields=["person_b", "status"], name="duplicate_candidate_b"),
        ]

    def __str__(self) -> str:
        return f"{self.person_a_id} ~ {self.person_b_id} ({self.score})"


class NotDuplicate(models.Model):
    """A staff decision that two persons are different customers: the pair is never suggested again."""

    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="+")
    person_a = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    person_b = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    decided_by = models.CharField(max_length=150, blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created"]
        verbose_name = "not-a-duplicate decision"
        constraints = [
            models.UniqueConstraint(fields=["person_a", "person_b"], name="not_duplicate_pair"),
            models.CheckConstraint(condition=models.Q(person_a__lt=models.F("person_b")), name="not_duplicate_order"),
        ]

    def __str__(self) -> str:
        return f"{self.person_a_id} ≠ {self.person_b_id}"


class Segment(TimeStampedModel):
    """A saved, named filter of persons in Infobip's filter language; its members are counted live."""

    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=NAME_MAX)
    filter = models.TextField(help_text="Infobip's filter language (JSON), as the persons list's `filter`.")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint("realm", Lower("name"), name="segment_name_unique")]

    def __str__(self) -> str:
        return self.name


class ActorKind(models.TextChoices):
    ADMIN = "admin", "Staff user"
    API_KEY = "api_key", "API key"
    IMPORT = "import", "Import job"
    SYNC = "sync", "Sync run"
    SYSTEM = "system", "System"


class PersonActivity(models.Model):
    """One change of a person: who or what made it (actor), what it did and which fields it touched.

    Field names only, never their values: the history is then no second copy of personal data (the values are
    on the person, and an erase leaves this table without any). `person_id` is a plain number, not a foreign
    key, so the history and an erase's audit row outlive the person."""

    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="+")
    person_id = models.BigIntegerField()
    created = models.DateTimeField(default=timezone.now, editable=False)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices, default=ActorKind.SYSTEM)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20)
    fields = models.JSONField(default=list, blank=True, help_text="The API names of the fields changed.")
    detail = models.JSONField(default=dict, blank=True, help_text="Ids only: merge record, import job, counts.")

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name_plural = "person activity"
        indexes = [models.Index(fields=["person_id", "-created"], name="person_activity_timeline")]

    def __str__(self) -> str:
        return f"{self.action} of person {self.person_id} by {self.actor_label or self.actor_kind}"


class BulkJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class BulkJob(models.Model):
    """A staff bulk action on more persons than a request should hold (people.bulk_jobs): the selection's ids,
    the action and its parameters, and its progress, chunk by chunk, for the progress page."""

    action = models.CharField(max_length=40)
    params = models.JSONField(default=dict, blank=True, help_text="The action's form, ids only (tag, type, company).")
    person_ids = ArrayField(models.BigIntegerField(), default=list, help_text="The selection when it was confirmed.")
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0, help_text="Persons applied (a crashed job resumes after them).")
    status = models.CharField(max_length=10, choices=BulkJobStatus.choices, default=BulkJobStatus.QUEUED)
    error = models.TextField(blank=True)
    started_by = models.CharField(max_length=150, blank=True)
    started_by_id = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "bulk action job"

    def __str__(self) -> str:
        return f"Bulk job #{self.pk}: {self.action} ({self.done}/{self.total})"

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.done / self.total)
