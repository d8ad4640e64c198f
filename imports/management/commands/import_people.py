import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from identities.models import Realm
from imports import mapping as mapping_rules
from imports import services
from imports.models import ImportStatus
from imports.reports import import_error_report_write


class Command(BaseCommand):
    help = (
        "Import people from a file, as the admin's Import people page does: import_people FILE --realm NAME "
        "--duplicates {discard,resolve} [--mapping MAPPING.json] [--phone-country HR] [--tag NAME ...]. "
        "The last line of output is a JSON object with the counts and the error report's path."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--realm", required=True, help="Realm name")
        parser.add_argument("--duplicates", required=True, choices=["discard", "resolve"])
        parser.add_argument("--mapping", type=Path, help="JSON object: column header → field name (or null)")
        parser.add_argument("--phone-country", default="", help="Country prefix for phones given without one")
        parser.add_argument("--tag", action="append", default=[], help="A tag for every imported person (repeat)")
        parser.add_argument(
            "--type", choices=["CUSTOMER", "LEAD"], default="", dest="default_type",
            help="The type of rows without one (default: Customer; an existing Customer stays one)",
        )  # fmt: skip

    def handle(self, *args, file, realm, duplicates, mapping, phone_country, tag, default_type="", **options):
        realm_obj = Realm.objects.filter(name=realm).first()
        if realm_obj is None:
            raise CommandError(f"No realm named {realm!r}.")
        if not file.is_file():
            raise CommandError(f"{file} is not a file.")
        try:
            country = mapping_rules.check_country(phone_country)
            job = services.import_job_from_path(realm=realm_obj, path=file, started_by="manage.py import_people")
            self.stderr.write(
                f"Import #{job.pk}: {job.original_name} ({job.get_file_format_display()}"
                f"{', ' + job.effective_encoding if job.effective_encoding else ''}), columns: {', '.join(job.headers)}"
            )
            for note in job.notes:
                self.stderr.write(note)
            data = mapping_rules.NOT_GIVEN
            if mapping is not None:
                try:
                    data = json.loads(mapping.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError) as exc:
                    raise CommandError(f"Cannot read the mapping file: {exc}") from exc
            entries = mapping_rules.mapping_with_options(job.mapping, job.headers, data, phone_country=country)
            job = services.import_job_map(job=job, mapping=entries, default_type=default_type)
            mapped = ", ".join(f"{e['header']} → {e['field']}" for e in job.mapping if e["field"])
            self.stderr.write(f"Mapping: {mapped}")
            job = services.import_job_analyze(job=job)
            analysis = job.analysis
            self.stderr.write(
                f"Analyzed {analysis['rows']} rows in {analysis['seconds']} s: {analysis['valid']} valid, "
                f"{analysis['invalid']} invalid, {analysis['duplicate_groups']} duplicate groups, "
                f"{analysis['matching_rows']} rows match existing persons."
            )
            job = services.import_job_start(job=job, strategy=duplicates, tags=tag, enqueue=False)
            job = services.import_job_run(job=job)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        report = import_error_report_write(job=job, fmt="csv")
        result = {
            "job": job.pk,
            "status": job.status,
            **job.counts(),
            "tag": job.import_tag,
            "seconds": round(job.duration.total_seconds(), 2) if job.duration else None,
            "error_report": str(report),
        }
        if job.status != ImportStatus.SUCCEEDED:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            raise CommandError(f"Import #{job.pk} {job.status}: {job.error}")
        sys.stdout.flush()
        self.stdout.write(json.dumps(result, ensure_ascii=False))
