"""The persons sync endpoints: POST /v1/identities/persons/sync (queue a run), GET .../sync/:run (its state)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api import examples as ex
from core.api.schema import IDEMPOTENCY_KEY, READ_ERRORS, WRITE_ERRORS
from core.api.views import ApiView
from infobip import services
from infobip.models import SyncRun, SyncRunStatus

TAG = "Persons sync"
SYNC_STARTED_MESSAGE = "Person sync is in processing pool."
RUN_TYPES = {
    SyncRunStatus.QUEUED: "persons.sync.queued",
    SyncRunStatus.RUNNING: "persons.sync.running",
    SyncRunStatus.SUCCEEDED: "persons.sync.done",
    SyncRunStatus.FAILED: "persons.sync.failed",
    SyncRunStatus.CANCELLED: "persons.sync.cancelled",
}


class SyncWriteSerializer(serializers.Serializer):
    country = serializers.CharField(required=False, help_text="Default country of new identities (ISO alpha-2).")
    currency = serializers.CharField(required=False, help_text="Default currency of new identities (ISO 4217).")
    limit = serializers.CharField(required=False, help_text="Number of results (1..1000; a number or its string).")
    page = serializers.IntegerField(required=False, help_text="Results page number, from 1.")
    filter = serializers.CharField(required=False, help_text="Infobip filter of the persons to sync.")


class SyncStartedSerializer(serializers.Serializer):
    name = serializers.CharField()
    message = serializers.CharField()
    code = serializers.IntegerField()
    type = serializers.CharField()
    data = serializers.DictField(help_text="The parameters as sent, and the owner.")

    class Meta:
        ref_name = "SyncStarted"


class SyncRunDataSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(SyncRunStatus.choices)
    step = serializers.IntegerField()
    params = serializers.DictField()
    progress = serializers.DictField()
    counts = serializers.DictField()
    errors = serializers.ListField(child=serializers.JSONField())
    owner = serializers.CharField(allow_blank=True)
    createdAt = serializers.CharField()
    startedAt = serializers.CharField(allow_null=True)
    finishedAt = serializers.CharField(allow_null=True)


class SyncRunSerializer(SyncStartedSerializer):
    data = SyncRunDataSerializer()

    class Meta:
        ref_name = "SyncRun"


def _time(value) -> str | None:
    return value.isoformat() if value else None


def sync_run_as_dict(run: SyncRun) -> dict:
    return {
        "name": "SyncRun",
        "message": f"Person sync {run.get_status_display().lower()}.",
        "code": 200,
        "type": RUN_TYPES.get(run.status, f"persons.sync.{run.status}"),
        "data": {
            "id": run.pk,
            "status": run.status,
            "step": run.step,
            "params": run.params,
            "progress": run.progress,
            "counts": run.counts,
            "errors": run.errors,
            "owner": run.owner,
            "createdAt": _time(run.created),
            "startedAt": _time(run.started_at),
            "finishedAt": _time(run.finished_at),
        },
    }


class PersonSyncView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Start the two-way persons sync",
        description="Queues the three-step sync. Answers the EventStarted envelope; the run's URL is in the "
        "Location header (GET it for progress and outcome).",
        parameters=[IDEMPOTENCY_KEY],
        request=SyncWriteSerializer,
        responses={
            200: OpenApiResponse(SyncStartedSerializer, description="Queued; Location: the run."),
            **WRITE_ERRORS,
        },
        examples=[
            OpenApiExample("HR / EUR", value=ex.SYNC_REQUEST, request_only=True),
            OpenApiExample("EventStarted", value=ex.SYNC_RESPONSE, response_only=True),
        ],
    )
    def post(self, request):
        params = self.body_object()
        run = services.sync_run_start(realm=self.realm, owner=self.owner, started_by=str(request.user), params=params)
        body = {
            "name": "EventStarted",
            "message": SYNC_STARTED_MESSAGE,
            "code": 200,
            "type": "persons.sync.started",
            "data": {**run.params, "owner": self.owner},
        }
        return Response(body, headers={"Location": f"/v1/identities/persons/sync/{run.pk}"})


class PersonSyncRunView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Progress and outcome of a sync run",
        responses={200: SyncRunSerializer, **READ_ERRORS},
    )
    def get(self, request, run_id):
        return Response(sync_run_as_dict(services.sync_run_get(self.realm, run_id)))
