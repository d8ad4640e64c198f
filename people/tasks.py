"""django-q2 entry points of the people app: take ids, reload rows, call a service. Safe to run twice."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from identities.models import Realm
from people.duplicates import duplicate_scan_request
from people.duplicates import duplicate_scan_run as scan_run_service
from people.models import DuplicateScan, DuplicateScanStatus


def duplicate_scan_run(scan_id: int) -> str:
    scan = DuplicateScan.objects.filter(pk=scan_id).select_related("realm").first()
    if scan is None:
        return "gone"
    return scan_run_service(scan=scan).status


def duplicates_rescan_all() -> int:
    """The nightly schedule (registered by migration people.0005): one queued scan per realm, unless one is
    already waiting or running (a scan stuck for a day, its worker lost, no longer counts)."""
    busy = set(
        DuplicateScan.objects.filter(
            status__in=[DuplicateScanStatus.QUEUED, DuplicateScanStatus.RUNNING],
            created__gte=timezone.now() - dt.timedelta(days=1),
        ).values_list("realm_id", flat=True)
    )
    queued = 0
    for realm in Realm.objects.exclude(pk__in=busy):
        duplicate_scan_request(realm=realm, started_by="schedule")
        queued += 1
    return queued


def bulk_job_run(job_id: int) -> str:
    from people.bulk_jobs import bulk_job_run as run_service
    from people.models import BulkJob

    job = BulkJob.objects.filter(pk=job_id).first()
    if job is None:
        return "gone"
    return run_service(job=job).status
