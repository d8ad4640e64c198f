"""Conversation channels' session events over REST (``POST /v1/conversations/events``): a thin view over
tracking.conversations, called by the channel integration with the realm's API key."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api.schema import IDEMPOTENCY_KEY, WRITE_ERRORS
from core.api.views import ApiView
from people.representation import person_as_dict
from people.selectors import persons_for_rendering
from people.serializers import PersonSerializer
from tracking import conversations
from tracking.api_mobile import LOGIN_ATTRIBUTES

CONVERSATION_ATTRIBUTES = LOGIN_ATTRIBUTES


class ConversationEventSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(["CHATBOTS", "INBOX"])
    event = serializers.ChoiceField(["SESSION_START", "SESSION_END"])
    sessionId = serializers.CharField(max_length=200, help_text="The conversation's id: with the event, one event.")
    occurredTime = serializers.DateTimeField(required=False, help_text="Default: now.")
    contact = serializers.DictField(help_text="phone, email and/or externalId of the end user.")
    attributes = serializers.DictField(required=False, help_text="Standard attributes of a new customer only.")

    class Meta:
        ref_name = "ConversationEvent"


class ConversationEventResultSerializer(serializers.Serializer):
    person = PersonSerializer(help_text="The profile the event was added to.")
    personCreated = serializers.BooleanField(help_text="No profile had the contact: a Customer was created.")
    eventCreated = serializers.BooleanField(help_text="False when this session's event was already recorded.")

    class Meta:
        ref_name = "ConversationEventResult"


class ConversationEventView(ApiView):
    @extend_schema(
        tags=["Conversations"],
        summary="Record a chatbot or inbox session start/end",
        description="Added to the timeline of the profile holding the contact (its type and attributes untouched); "
        "when none does, a Customer is created with the contact (201). The same session's same event is recorded "
        "once (a retry answers 200 with `eventCreated: false`).",
        parameters=[IDEMPOTENCY_KEY],
        request=ConversationEventSerializer,
        responses={200: ConversationEventResultSerializer, 201: ConversationEventResultSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Chatbot session started",
                value={
                    "channel": "CHATBOTS",
                    "event": "SESSION_START",
                    "sessionId": "c-81f2",
                    "contact": {"phone": "+385912345678"},
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        person, created, event_created = conversations.conversation_event_record(
            realm=self.realm, payload=self.body_object(), attribute_names=CONVERSATION_ATTRIBUTES
        )
        rendered = persons_for_rendering([person.pk])[person.pk]
        return Response(
            {"person": person_as_dict(rendered), "personCreated": created, "eventCreated": event_created},
            status=201 if created else 200,
        )
