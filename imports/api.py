"""The people import over REST: POST /v1/imports (upload and queue), GET /v1/imports[/:id], the error report
(GET /v1/imports/:id/errors.csv|xlsx) and POST /v1/imports/:id/cancel.

An adapter like `manage.py import_people`, doing the same job the same way: create the job from the file,
map it (the mapping file's format, or the suggested mapping), then, since nobody looks at the analysis, queue
the analysis and the import as one chain (`import_job_request_unattended`). Everything up to the queueing
happens in one transaction; a refusal leaves no job and no stored file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from core.api.listing import list_envelope, list_params, paginate
from core.api.parsers import PayloadTooLarge
from core.api.schema import IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS, ErrorSerializer, list_parameters
from core.api.views import ApiView
from core.errors import ErrorCollector, ValidationError
from imports import mapping as mapping_rules
from imports import readers, reports, selectors, services
from imports.models import DuplicateStrategy, ImportJob, ImportStatus
from people.models import PersonType

TAG = "People import"
FIELDS = ("file", "duplicates", "mapping", "phoneCountry", "tags", "encoding", "delimiter", "defaultType")
DEFAULT_TYPES = tuple(PersonType.values)  # CUSTOMER, LEAD
ORDER = {"id": "pk", "createdAt": "created"}
DEFAULT_ORDER = "createdAt:desc"
REPORT_TYPES = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

MSG_FILE_REQUIRED = "is required: the table to import, sent as a multipart/form-data file part"
MSG_FILE_NOT_FILE = "must be a file part (with a filename), not a text field"
MSG_ONE_VALUE = "give it once"
MSG_DUPLICATES = "is required: discard or resolve"
MSG_DUPLICATES_BAD = "must be discard or resolve, got {value!r}"
MSG_DEFAULT_TYPE_BAD = "must be LEAD or CUSTOMER, got {value!r}"
MSG_MAPPING_JSON = "is not valid JSON ({error})"
MSG_MAPPING_OBJECT = 'must be a JSON object: column header → field name or null, e.g. {"Mobile": "phone"}'
MSG_UNKNOWN = "is not a field of an import (fields: {fields})"
MSG_NUL = "must not contain NUL characters"
MSG_UPLOAD_TOO_LARGE = (
    "The upload is larger than {limit:,} bytes (IMPORT_MAX_FILE_BYTES for the file plus API_MAX_BODY_BYTES for the "
    "form fields)."
)


def job_path(job: ImportJob) -> str:
    return f"/v1/imports/{job.pk}"


def _time(value) -> str | None:
    return value.isoformat() if value else None


def import_job_as_dict(job: ImportJob) -> dict[str, Any]:
    """The API's resource of a job. Reads only what `selectors.import_jobs` loads (no query of its own)."""
    progress = selectors.import_job_progress(job)
    counts = job.counts()
    # The analysis's invalid rows count from the start; the run adds the rows it finds invalid.
    invalid = job.invalid_count or job.rows_invalid
    has_issues = bool(invalid or job.discarded_count)
    return {
        "id": job.pk,
        "status": job.status,
        "finished": job.is_finished,
        "fileName": job.original_name,
        "strategy": job.strategy or None,
        "tags": list(job.tags),
        "tag": job.import_tag or None,
        "defaultType": job.default_type or None,
        "counts": {
            "rows": counts["rows"],
            "created": counts["created"],
            "updated": counts["updated"],
            "unchanged": counts["unchanged"],
            "merged": counts["merged"],
            "discarded": counts["discarded"],
            "invalid": invalid,
            "personsMerged": counts["persons_merged"],
        },
        "progress": {
            "rowsDone": progress["rows_done"],
            "rowsTotal": progress["rows_total"],
            "percent": progress["percent"],
            "rate": progress["rate"],
            "etaSeconds": progress["seconds_left"],
            "waitingFor": progress["waiting_for"],
        },
        "cancelRequested": job.cancel_requested,
        "error": job.error or None,
        "createdAt": _time(job.created),
        "analyzedAt": _time(job.analyzed_at),
        "startedAt": _time(job.started_at),
        "finishedAt": _time(job.finished_at),
        "seconds": round(job.duration.total_seconds(), 2) if job.duration else None,
        "errorsUrl": f"{job_path(job)}/errors.csv" if has_issues else None,
    }


# ------------------------------------------------------------------------------------------ input


@dataclass(frozen=True)
class ImportArgs:
    file: UploadedFile
    strategy: str
    mapping: Any  # the mapping file's JSON, or mapping_rules.NOT_GIVEN
    phone_country: str
    tags: list[str]
    encoding: str
    delimiter: str
    default_type: str  # CUSTOMER, LEAD, or "" (rows without a type: Customer for new persons)


def _values(data, name: str) -> list[Any]:
    """Every value of a form field (multipart data is a QueryDict; a bodiless request's data a plain dict)."""
    if hasattr(data, "getlist"):
        return data.getlist(name)
    value = data.get(name)
    return [] if value is None else value if isinstance(value, list) else [value]


def _single(data, name: str, errors: ErrorCollector) -> str:
    values = _values(data, name)
    if len(values) > 1:
        errors.add(name, MSG_ONE_VALUE)
    value = values[0] if values else ""
    return value if isinstance(value, str) else ""


def import_args(data) -> ImportArgs:
    """The upload's form fields, checked at the edge (what the services check themselves is left to them:
    the file's name, size and content, encoding and delimiter, the mapping's fields, the tags)."""
    errors = ErrorCollector()
    for name in data:
        if name not in FIELDS:
            errors.add(name, MSG_UNKNOWN.format(fields=", ".join(FIELDS)))
        for value in _values(data, name):
            text = (value.name or "") if isinstance(value, UploadedFile) else str(value)
            if "\x00" in name or "\x00" in text:
                errors.add(name.replace("\x00", ""), MSG_NUL)
    errors.raise_if_any()

    files = _values(data, "file")
    upload = files[0] if len(files) == 1 and isinstance(files[0], UploadedFile) else None
    if not files:
        errors.add("file", MSG_FILE_REQUIRED)
    elif len(files) > 1:
        errors.add("file", MSG_ONE_VALUE)
    elif upload is None:
        errors.add("file", MSG_FILE_NOT_FILE)

    strategy = _single(data, "duplicates", errors)
    if not strategy:
        errors.add("duplicates", MSG_DUPLICATES)
    elif strategy not in DuplicateStrategy.values:
        errors.add("duplicates", MSG_DUPLICATES_BAD.format(value=strategy[:40]))

    mapping: Any = mapping_rules.NOT_GIVEN
    raw_mapping = _single(data, "mapping", errors)
    if raw_mapping.strip():
        try:
            mapping = json.loads(raw_mapping)
        except (ValueError, RecursionError) as exc:
            errors.add("mapping", MSG_MAPPING_JSON.format(error=str(exc)[:80]))
        else:
            if not isinstance(mapping, dict):
                errors.add("mapping", MSG_MAPPING_OBJECT)

    phone_country = ""
    try:
        phone_country = mapping_rules.check_country(_single(data, "phoneCountry", errors))
    except ValidationError as exc:
        for reasons in exc.fields.values():
            for reason in reasons:
                errors.add("phoneCountry", reason)

    default_type = _single(data, "defaultType", errors).strip()
    if default_type and default_type not in DEFAULT_TYPES:
        errors.add("defaultType", MSG_DEFAULT_TYPE_BAD.format(value=default_type[:40]))

    tags = [part.strip() for value in _values(data, "tags") for part in str(value).split(",") if part.strip()]
    encoding = _single(data, "encoding", errors).strip()
    delimiter = _single(data, "delimiter", errors)
    errors.raise_if_any()
    return ImportArgs(
        file=upload,
        strategy=strategy,
        mapping=mapping,
        phone_country=phone_country,
        tags=tags,
        encoding=encoding,
        delimiter=delimiter,
        default_type=default_type,
    )


def _map(job: ImportJob, entries: list[dict[str, Any]], default_type: str) -> ImportJob:
    """import_job_map, its per-column reasons named `mapping.<header>` as the API's fields."""
    try:
        return services.import_job_map(job=job, mapping=entries, default_type=default_type)
    except ValidationError as exc:
        fields = {name if name == "mapping" else f"mapping.{name}": reasons for name, reasons in exc.fields.items()}
        raise ValidationError(fields, code=exc.code) from exc


# --------------------------------------------------------------------------------------- schema


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=".csv, .txt, .xls, .xlsx, or a .zip holding exactly one of them; at most 15 MB unpacked "
        "(IMPORT_MAX_FILE_BYTES)."
    )
    duplicates = serializers.ChoiceField(
        DuplicateStrategy.choices,
        help_text="`resolve`: rows sharing a phone, email or externalId (and the persons they match) become one "
        "person; `discard`: only a group's first row is imported, and only if it matches no person.",
    )
    mapping = serializers.CharField(
        required=False,
        help_text='A JSON object: column header → API field name or null (not imported), e.g. {"Mobile": '
        '"phone", "Ime": "firstName", "Notes": null}; a phone column may name its country prefix: '
        '{"Tel": {"field": "phone", "country": "DE"}}. Columns it does not name are not imported. Without it, '
        "the columns are mapped from their names and values (and the last mapping used for the same headers).",
    )
    phoneCountry = serializers.CharField(
        required=False, help_text="ISO alpha-2 country whose prefix phones without one get (default: the realm's)."
    )
    tags = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Tags for every imported person: repeat the field, or separate names by commas.",
    )
    encoding = serializers.ChoiceField(
        list(readers.ENCODINGS), required=False, help_text="A text file's encoding, instead of the detected one."
    )
    delimiter = serializers.ChoiceField(
        list(readers.DELIMITERS), required=False, help_text="A text file's delimiter, instead of the detected one."
    )
    defaultType = serializers.ChoiceField(
        DEFAULT_TYPES,
        required=False,
        help_text="The type of rows without one (no column mapped to `type`, or an empty cell): LEAD or CUSTOMER. "
        "Default: Customer for new persons. A row's own type wins, and an existing Customer stays a Customer.",
    )


class ImportCountsSerializer(serializers.Serializer):
    rows = serializers.IntegerField(help_text="Rows of the file (without the header).")
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    merged = serializers.IntegerField(help_text="Rows folded into another row's person.")
    discarded = serializers.IntegerField()
    invalid = serializers.IntegerField()
    personsMerged = serializers.IntegerField(help_text="Existing persons merged into another one.")


class ImportProgressSerializer(serializers.Serializer):
    rowsDone = serializers.IntegerField()
    rowsTotal = serializers.IntegerField(help_text="Valid rows to apply.")
    percent = serializers.FloatField()
    rate = serializers.FloatField(help_text="Rows per second.")
    etaSeconds = serializers.IntegerField(help_text="Estimated seconds left.")
    waitingFor = serializers.IntegerField(
        allow_null=True,
        help_text="Running, but waiting for this import of the realm to end first (one import of a realm at a time).",
    )


class ImportJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(ImportStatus.choices)
    finished = serializers.BooleanField()
    fileName = serializers.CharField()
    strategy = serializers.ChoiceField(DuplicateStrategy.choices, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), help_text="The extra tags asked for.")
    tag = serializers.CharField(allow_null=True, help_text="The import's own tag, on every person it changed.")
    defaultType = serializers.ChoiceField(
        DEFAULT_TYPES, allow_null=True, help_text="The type of rows without one; null: Customer for new persons."
    )
    counts = ImportCountsSerializer()
    progress = ImportProgressSerializer()
    cancelRequested = serializers.BooleanField()
    error = serializers.CharField(allow_null=True, help_text="Why the job failed.")
    createdAt = serializers.CharField()
    analyzedAt = serializers.CharField(allow_null=True)
    startedAt = serializers.CharField(allow_null=True)
    finishedAt = serializers.CharField(allow_null=True)
    seconds = serializers.FloatField(allow_null=True, help_text="Duration of the import (start to finish).")
    errorsUrl = serializers.CharField(allow_null=True, help_text="The error report, when some rows have issues.")

    class Meta:
        ref_name = "Import"


class ImportListSerializer(serializers.Serializer):
    imports = ImportJobSerializer(many=True)
    limit = serializers.IntegerField()
    page = serializers.IntegerField()
    orderBy = serializers.CharField()
    totalCount = serializers.IntegerField(required=False)


JOB_ID = OpenApiParameter("job_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The import's id.")
QUEUED_EXAMPLE = {
    "id": 12, "status": "analyzing", "finished": False, "fileName": "people.csv", "strategy": "resolve",
    "tags": ["Fair 2026"], "tag": None, "defaultType": "LEAD",
    "counts": {"rows": 0, "created": 0, "updated": 0, "unchanged": 0, "merged": 0, "discarded": 0, "invalid": 0,
               "personsMerged": 0},
    "progress": {"rowsDone": 0, "rowsTotal": 0, "percent": 0.0, "rate": 0.0, "etaSeconds": 0, "waitingFor": None},
    "cancelRequested": False, "error": None, "createdAt": "2026-11-22T10:15:00.123456+00:00", "analyzedAt": None,
    "startedAt": None, "finishedAt": None, "seconds": None, "errorsUrl": None,
}  # fmt: skip
DONE_EXAMPLE = {
    **QUEUED_EXAMPLE, "status": "succeeded", "finished": True, "tag": "Import 2026-11-22 #12",
    "counts": {"rows": 3, "created": 1, "updated": 0, "unchanged": 0, "merged": 1, "discarded": 0, "invalid": 1,
               "personsMerged": 0},
    "progress": {"rowsDone": 2, "rowsTotal": 2, "percent": 100.0, "rate": 1850.0, "etaSeconds": 0, "waitingFor": None},
    "analyzedAt": "2026-11-22T10:15:00.456789+00:00", "startedAt": "2026-11-22T10:15:00.501234+00:00",
    "finishedAt": "2026-11-22T10:15:00.612345+00:00", "seconds": 0.11, "errorsUrl": "/v1/imports/12/errors.csv",
}  # fmt: skip


# ---------------------------------------------------------------------------------------- views


class ImportListView(ApiView):
    parser_classes = [MultiPartParser]

    def initial(self, request, *args, **kwargs):
        """An upload whose declared length exceeds the file limit plus the form fields' is refused (413) before
        any of it is read or spooled to disk."""
        super().initial(request, *args, **kwargs)
        limit = settings.IMPORT_MAX_FILE_BYTES + settings.API_MAX_BODY_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if request.method == "POST" and length > limit:
            raise PayloadTooLarge(MSG_UPLOAD_TOO_LARGE.format(limit=limit))

    @extend_schema(
        tags=[TAG],
        summary="List imports",
        description="The realm's imports, newest first by default.",
        parameters=list_parameters(list(ORDER), DEFAULT_ORDER),
        responses={200: ImportListSerializer, **READ_ERRORS},
    )
    def get(self, request):
        params = list_params(request.query_params, order_fields=ORDER, default_order=DEFAULT_ORDER)
        jobs, total = paginate(selectors.import_jobs(self.realm), params)
        return Response(list_envelope("imports", jobs, import_job_as_dict, params, total))

    @extend_schema(
        tags=[TAG],
        summary="Import people from a file",
        description="The admin's Import people, unattended (like `manage.py import_people`): a multipart upload "
        "of the file and the choices. The file is checked here (size, zip rules, format, a header and data "
        "rows) and mapped (`mapping`, or from its headers); a refused file or a mapping without a phone, email "
        "or externalId column is a 400 naming the reason, and leaves nothing behind. Then the analysis and the "
        "import run in the background: answers 202 with the job, whose URL is in the Location header; GET it "
        "for progress and counts. A job whose analysis refuses the file ends `failed` with the reason.",
        parameters=[IDEMPOTENCY_KEY],
        request=ImportUploadSerializer,
        responses={
            202: OpenApiResponse(ImportJobSerializer, description="Queued; Location: the job."),
            **WRITE_ERRORS,
            415: OpenApiResponse(ErrorSerializer, description="The body is not multipart/form-data."),
        },
        examples=[OpenApiExample("Queued", value=QUEUED_EXAMPLE, response_only=True, status_codes=["202"])],
    )
    def post(self, request):
        args = import_args(request.data)
        started_by = f"API {self.owner} (key {self.api_key.prefix})"
        job = None
        try:
            with transaction.atomic():
                job = services.import_job_create(realm=self.realm, uploaded_file=args.file, started_by=started_by)
                if args.encoding or args.delimiter:
                    job = services.import_job_configure(job=job, encoding=args.encoding, delimiter=args.delimiter)
                entries = mapping_rules.mapping_with_options(
                    job.mapping, job.headers, args.mapping, phone_country=args.phone_country
                )
                job = _map(job, entries, args.default_type)
                job = services.import_job_request_unattended(job=job, strategy=args.strategy, tags=args.tags)
        except BaseException:
            if job is not None:  # the job's row is rolled back; its files are not
                services.import_job_delete_files(job)
            raise
        return Response(import_job_as_dict(job), status=202, headers={"Location": job_path(job)})

    def idempotency_body(self, request) -> bytes:
        """Two sends of the same upload differ in their multipart boundary: compare the fields, and the file by
        its name and SHA-256, instead of the body's bytes."""
        parts: list[list[str]] = []
        data = request.data
        for name in sorted(data):
            for value in _values(data, name):
                if isinstance(value, UploadedFile):
                    digest = hashlib.sha256()
                    for chunk in value.chunks():
                        digest.update(chunk)
                    value.seek(0)
                    parts.append([name, value.name or "", digest.hexdigest()])
                else:
                    parts.append([name, str(value)])
        return json.dumps(parts, ensure_ascii=False).encode()


class ImportDetailView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="An import: status, progress and counts",
        description="`errorsUrl` is set once some rows were found invalid or discarded.",
        parameters=[JOB_ID],
        responses={200: ImportJobSerializer, **READ_ERRORS},
        examples=[OpenApiExample("Done", value=DONE_EXAMPLE, response_only=True)],
    )
    def get(self, request, job_id):
        return Response(import_job_as_dict(selectors.import_job_get(self.realm, job_id)))


class ImportCancelView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Cancel an import",
        description="A queued import (or one still waiting for its analysis) stops at once; a running one after "
        "the batch it is applying (`cancelRequested`), keeping the batches already committed. A finished "
        "import is a 409.",
        parameters=[JOB_ID, IDEMPOTENCY_KEY],
        request=None,
        responses={200: ImportJobSerializer, **WRITE_ERRORS},
    )
    def post(self, request, job_id):
        job = services.import_job_cancel(job=selectors.import_job_get(self.realm, job_id))
        return Response(import_job_as_dict(job))


class _ImportErrorsView(ApiView):
    fmt = "csv"

    def perform_content_negotiation(self, request, force=False):
        # The report is a file whatever Accept says; errors are the JSON envelope.
        return super().perform_content_negotiation(request, force=True)

    def get(self, request, job_id):
        job = selectors.import_job_get(self.realm, job_id)
        path = reports.import_error_report_write(job=job, fmt=self.fmt)
        return FileResponse(open(path, "rb"), as_attachment=True, filename=f"import-{job.pk}-errors.{self.fmt}")


def _report_schema(fmt: str):
    return extend_schema(
        tags=[TAG],
        summary=f"The error report of an import ({fmt.upper()})",
        description="One line per refused row (row, kind, columns, values, reasons; a row's several problems "
        "listed in one line, separated by '; ') followed by the row's original cells; a CSV is written with the "
        "uploaded file's delimiter; cells a spreadsheet would run as a formula (= + - @) are prefixed with '. "
        "An attachment.",
        parameters=[JOB_ID],
        responses={
            (200, REPORT_TYPES[fmt]): OpenApiResponse(OpenApiTypes.BINARY, description="The report file."),
            **READ_ERRORS,
        },
    )


class ImportErrorsCsvView(_ImportErrorsView):
    fmt = "csv"

    @_report_schema("csv")
    def get(self, request, job_id):
        return super().get(request, job_id)


class ImportErrorsXlsxView(_ImportErrorsView):
    fmt = "xlsx"

    @_report_schema("xlsx")
    def get(self, request, job_id):
        return super().get(request, job_id)
