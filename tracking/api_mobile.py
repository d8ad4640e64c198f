"""The Mobile SDK scenarios over REST (``/v1/mobile/installations[/login|/logout]``): thin views over
tracking.mobile. Called by the app's backend with the realm's API key: the key is the login's confirmation."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.api.schema import IDEMPOTENCY_KEY, WRITE_ERRORS
from core.api.views import ApiView
from core.errors import ErrorCollector
from people.fields import PERSON_ATTRIBUTES
from people.representation import person_as_dict
from people.selectors import persons_for_rendering
from people.serializers import PersonSerializer
from tracking import mobile

TAG = "Mobile apps"
REGISTRATION_KEYS = {"applicationId", "pushRegistrationId"}
LOGIN_ATTRIBUTES = {api: f for api, f in PERSON_ATTRIBUTES.items() if api not in ("type", "externalId")}


class InstallationSerializer(serializers.Serializer):
    applicationId = serializers.CharField(max_length=255, help_text="The app's Infobip application code.")
    pushRegistrationId = serializers.CharField(max_length=255, help_text="The installation's push registration.")

    class Meta:
        ref_name = "MobileInstallation"


class InstallationRegisterSerializer(InstallationSerializer):
    data = serializers.DictField(required=False, help_text="Extra registration data kept as preview (platform …).")

    class Meta:
        ref_name = "MobileInstallationRegister"


class InstallationLoginSerializer(InstallationSerializer):
    externalId = serializers.CharField(required=False, max_length=256)
    email = serializers.ListField(child=serializers.CharField(), required=False, max_length=100)
    phone = serializers.ListField(child=serializers.CharField(), required=False, max_length=100)
    attributes = serializers.DictField(
        required=False, help_text="Standard attributes in the API's names (firstName, lastName, city …)."
    )

    class Meta:
        ref_name = "MobileInstallationLogin"


class InstallationPersonSerializer(serializers.Serializer):
    person = PersonSerializer(help_text="The person holding the push registration now.")
    outcome = serializers.ChoiceField(
        ["created", "known", "lead_merged", "customer", "detached", "unchanged"], help_text="What happened."
    )
    previousPerson = serializers.IntegerField(
        required=False, allow_null=True, help_text="Logout: the person the registration left."
    )

    class Meta:
        ref_name = "MobileInstallationPerson"


def _body(view: ApiView, allowed: set[str]) -> dict:
    data = view.body_object()
    errors = ErrorCollector()
    for key in sorted(set(data) - allowed):
        errors.add(key, f"is not a field here; use {', '.join(sorted(allowed))}")
    errors.raise_if_any()
    return data


def _answer(person, outcome: str, status: int = 200, **extra) -> Response:
    rendered = persons_for_rendering([person.pk])[person.pk]
    return Response({"person": person_as_dict(rendered), "outcome": outcome, **extra}, status=status)


EXAMPLE_INSTALL = {"applicationId": "app-1", "pushRegistrationId": "reg-6f1c2d"}


class InstallationListView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Install: an empty lead holds the push registration",
        description="A new registration → a new empty Lead holding it (201, `created`); a known one → its holder "
        "(200, `known`), nothing changes.",
        parameters=[IDEMPOTENCY_KEY],
        request=InstallationRegisterSerializer,
        responses={200: InstallationPersonSerializer, 201: InstallationPersonSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Install", value=EXAMPLE_INSTALL, request_only=True)],
    )
    def post(self, request):
        data = _body(self, REGISTRATION_KEYS | {"data"})
        extra = data.get("data") or {}
        if not isinstance(extra, dict):
            extra = {"value": extra}
        person, created = mobile.installation_register(
            realm=self.realm,
            application_id=data.get("applicationId"),
            registration_id=data.get("pushRegistrationId"),
            data=extra,
        )
        return _answer(person, "created" if created else "known", 201 if created else 200)


class InstallationLoginView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Login with a confirmed identity",
        description="No profile with these contacts → the installation's lead becomes a Customer with them "
        "(`created`); leads with the same email/phone/externalId → merged away into it, which becomes a Customer "
        "with everything given (`lead_merged`); an existing Customer → the push registration moves to it and the "
        "installation's lead is merged away (`customer`). Contacts of two different customers: 409.",
        parameters=[IDEMPOTENCY_KEY],
        request=InstallationLoginSerializer,
        responses={200: InstallationPersonSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Login",
                value={**EXAMPLE_INSTALL, "email": ["ana@example.com"], "attributes": {"firstName": "Ana"}},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = _body(self, REGISTRATION_KEYS | {"externalId", "email", "phone", "attributes"})
        raw = data.get("attributes") or {}
        errors = ErrorCollector()
        if not isinstance(raw, dict):
            errors.add("attributes", "must be an object")
            raw = {}
        for name in sorted(set(raw) - set(LOGIN_ATTRIBUTES)):
            errors.add(f"attributes.{name}", "is not a standard attribute a login sets")
        errors.raise_if_any()
        person, outcome = mobile.installation_login(
            realm=self.realm,
            application_id=data.get("applicationId"),
            registration_id=data.get("pushRegistrationId"),
            external_id=data.get("externalId"),
            emails=data.get("email") if data.get("email") is not None else [],
            phones=data.get("phone") if data.get("phone") is not None else [],
            attributes={LOGIN_ATTRIBUTES[k]: v for k, v in raw.items()},
        )
        return _answer(person, outcome)


class InstallationLogoutView(ApiView):
    @extend_schema(
        tags=[TAG],
        summary="Logout: a new empty lead takes the push registration",
        description="The registration detaches from its person (who keeps everything else) and a new empty Lead "
        "takes it (`detached`); an installation already held by an empty lead keeps it (`unchanged`).",
        parameters=[IDEMPOTENCY_KEY],
        request=InstallationSerializer,
        responses={200: InstallationPersonSerializer, **WRITE_ERRORS},
        examples=[OpenApiExample("Logout", value=EXAMPLE_INSTALL, request_only=True)],
    )
    def post(self, request):
        data = _body(self, REGISTRATION_KEYS)
        previous, holder = mobile.installation_logout(
            realm=self.realm, application_id=data.get("applicationId"), registration_id=data.get("pushRegistrationId")
        )
        outcome = "unchanged" if previous.pk == holder.pk else "detached"
        return _answer(holder, outcome, previousPerson=previous.pk)
