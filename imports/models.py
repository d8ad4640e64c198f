"""Import jobs: the workflow state of one file import on a row the admin shows, its staged rows, its batches
(which rows were applied, committed with them) and the problems found per row."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded: map the columns"
    ANALYZING = "analyzing", "Analyzing"
    ANALYZED = "analyzed", "Analyzed: choose how to resolve duplicates"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Importing"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (ImportStatus.ANALYZING, ImportStatus.QUEUED, ImportStatus.RUNNING)
FINISHED_STATUSES = (ImportStatus.SUCCEEDED, ImportStatus.FAILED, ImportStatus.CANCELLED)


class DuplicateStrategy(models.TextChoices):
    DISCARD = "discard", "Discard duplicates"
    RESOLVE = "resolve", "Resolve automatically"


class FileFormat(models.TextChoices):
    CSV = "csv", "CSV / text"
    XLS = "xls", "Excel 97-2003 (.xls)"
    XLSX = "xlsx", "Excel (.xlsx)"


def _upload_to(job: ImportJob, filename: str) -> str:
    return f"imports/{timezone.now():%Y/%m}/{filename}"


class ImportJob(models.Model):
    """One import of one file into one realm, from upload to result. Every step's outcome lives here."""

    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="import_jobs"
    )
    started_by = models.CharField(max_length=150, blank=True, help_text="Staff user, API owner or command.")
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)

    # The file: the upload as given, and the table inside it (the upload itself, or the one member of a zip).
    file = models.FileField(upload_to=_upload_to, max_length=255)
    data_file = models.FileField(upload_to=_upload_to, max_length=255, blank=True)
    original_name = models.CharField(max_length=255)
    inner_name = models.CharField(max_length=255, blank=True, help_text="The file inside a zip.")
    file_size = models.PositiveBigIntegerField(default=0, help_text="Bytes of the table (uncompressed).")
    file_format = models.CharField(max_length=4, choices=FileFormat.choices, default=FileFormat.CSV)
    sheet_name = models.CharField(max_length=255, blank=True)
    detected_encoding = models.CharField(max_length=20, blank=True)
    detected_delimiter = models.CharField(max_length=1, blank=True)
    encoding = models.CharField(max_length=20, blank=True, help_text="The user's choice; empty: as detected.")
    delimiter = models.CharField(max_length=1, blank=True, help_text="The user's choice; empty: as detected.")
    notes = models.JSONField(default=list, blank=True, help_text="What the reader decided (ignored sheets …).")

    # Mapping: one entry per column, in file order: {"header", "field" (API name or null), "country"}.
    headers = models.JSONField(default=list, blank=True)
    mapping = models.JSONField(default=list, blank=True)

    # Analysis, then the choices for the import.
    analysis = models.JSONField(default=dict, blank=True)
    strategy = models.CharField(max_length=10, choices=DuplicateStrategy.choices, blank=True)
    tags = models.JSONField(default=list, blank=True, help_text="Tags the user adds to every imported person.")
    default_type = models.CharField(
        max_length=10,
        blank=True,
        choices=[("CUSTOMER", "Customer"), ("LEAD", "Lead")],
        help_text="The type of rows without one (no Type column, or an empty cell); empty: Customer for new persons. "
        "An existing Customer stays one (people.journey).",
    )
    import_tag = models.CharField(max_length=100, blank=True, help_text="Set on every person this job changes.")

    # Counts (rows): rows = created + updated + unchanged + merged + discarded + invalid once finished.
    rows_total = models.PositiveIntegerField(default=0)
    rows_valid = models.PositiveIntegerField(default=0)
    rows_invalid = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField("created", default=0)
    updated_count = models.PositiveIntegerField("updated", default=0)
    unchanged_count = models.PositiveIntegerField("unchanged", default=0)
    merged_count = models.PositiveIntegerField("merged", default=0)
    discarded_count = models.PositiveIntegerField("discarded", default=0)
    invalid_count = models.PositiveIntegerField("invalid", default=0)
    persons_merged = models.PositiveIntegerField(default=0, help_text="Existing persons merged into another.")
    rate = models.FloatField(default=0.0, help_text="Rows per second so far.")

    cancel_requested = models.BooleanField(default=False)
    waiting = models.BooleanField(
        default=False, help_text="Running, but waiting for another import of its realm to end."
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now, editable=False)
    analyzed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True, help_text="When the user was told it finished.")

    class Meta:
        ordering = ["-created"]
        verbose_name = "import"
        indexes = [
            models.Index(fields=["realm", "-created"], name="importjob_realm_created"),
            models.Index(fields=["created_by", "notified_at"], name="importjob_to_notify"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ImportStatus.values), name="importjob_status"),
            models.CheckConstraint(
                condition=models.Q(strategy__in=["", *DuplicateStrategy.values]), name="importjob_strategy"
            ),
        ]

    def __str__(self) -> str:
        return f"Import #{self.pk} {self.original_name}"

    @property
    def effective_encoding(self) -> str:
        return self.encoding or self.detected_encoding

    @property
    def effective_delimiter(self) -> str:
        return self.delimiter or self.detected_delimiter

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows_total,
            "created": self.created_count,
            "updated": self.updated_count,
            "unchanged": self.unchanged_count,
            "merged": self.merged_count,
            "discarded": self.discarded_count,
            "invalid": self.invalid_count,
            "persons_merged": self.persons_merged,
        }


class SavedMapping(models.Model):
    """The last mapping used for a set of column headers in a realm: pre-fills the next file like it."""

    realm = models.ForeignKey("identities.Realm", on_delete=models.CASCADE, related_name="+")
    header_key = models.CharField(max_length=64, help_text="SHA-256 of the normalized, sorted headers.")
    headers = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, help_text="normalized header → {field, country}")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["realm", "header_key"], name="savedmapping_unique")]

    def __str__(self) -> str:
        return f"Mapping for {', '.join(self.headers)[:60]}"


class ImportRow(models.Model):
    """A valid row as it will be stored (cleaned by the analysis), staged until the import has applied it.

    `grp` is the duplicate group: the smallest row number of the rows sharing a phone, email or externalId
    with it, transitively. The import applies whole groups in batches, in `grp` order. Written with COPY,
    deleted in bulk when the job ends: never one ORM object per row. `data` is the row as JSON text, not
    jsonb: nothing queries inside it, and text is written and read back in a third of jsonb's server time.
    """

    pk = models.CompositePrimaryKey("job", "row")
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="+")
    row = models.PositiveIntegerField()
    grp = models.PositiveIntegerField()
    data = models.TextField(help_text="The cleaned row, JSON (see imports.parsing.ParsedRow).")

    class Meta:
        indexes = [models.Index(fields=["job", "grp"], name="importrow_job_grp")]

    def __str__(self) -> str:
        return f"row {self.row} of import {self.job_id}"


class IssueKind(models.TextChoices):
    INVALID = "invalid", "Invalid"
    DISCARDED = "discarded", "Discarded"


class ImportIssue(models.Model):
    """Why a row was not imported: one per problem (a row may have several). Written with COPY."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="issues")
    row = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=IssueKind.choices)
    column = models.CharField(max_length=255, blank=True)
    value = models.TextField(blank=True)
    reason = models.TextField()
    values = models.JSONField(default=list, blank=True, help_text="The row's original cells.")

    class Meta:
        ordering = ["row", "id"]
        indexes = [models.Index(fields=["job", "row"], name="importissue_job_row")]

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


class ImportBatch(models.Model):
    """One committed batch: written in the batch's own transaction, so it says exactly which rows are in."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()
    grp_from = models.PositiveIntegerField()
    grp_to = models.PositiveIntegerField()
    rows = models.JSONField(default=list, help_text="Row numbers as [first, last] ranges.")
    row_count = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    committed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["job", "number"], name="importbatch_unique")]

    def __str__(self) -> str:
        return f"Batch {self.number} of import {self.job_id}"


class AnalysisProgress(models.Model):
    """How far a running analysis has read, for the Analyze step's live bar. Written by the analysis on a
    connection of its own in autocommit while its transaction holds the job row (FOR UPDATE), so the row is
    visible at once; no foreign key, whose check would wait for that lock. Deleted when the analysis ends."""

    job_id = models.BigIntegerField(primary_key=True)
    rows_read = models.PositiveIntegerField(default=0)
    rows_expected = models.PositiveIntegerField(default=0, help_text="0: unknown (a workbook).")
    phase = models.CharField(max_length=20, default="reading")
    updated = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"analysis of import {self.job_id}: {self.rows_read} rows read"
