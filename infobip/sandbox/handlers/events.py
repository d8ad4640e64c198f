"""Event definitions and events endpoints (problem-details errors)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from infobip.sandbox import store as st
from infobip.sandbox.handlers.base import (
    PROBLEM,
    ApiError,
    Request,
    Response,
    _bool,
    _int_param,
    from_store_error,
)


class EventsHandlers:
    """Handlers of /peopleevents/2/* and /people/3/events."""

    store: st.Store

    # ----- event definitions -----

    def definitions_list(self, req: Request) -> Response:
        q = req.query
        offset = _int_param(q, "offset", 0, 0)
        limit = _int_param(q, "limit", 100, 0)
        with self.store.lock:
            items = list(self.store.definitions.values())
        categories = [c for c in (q.get("category") or "").split(",") if c]
        if categories:
            items = [d for d in items if d.get("category") in categories]
        if q.get("searchText"):
            needle = q["searchText"].lower()
            items = [
                d
                for d in items
                if any(needle in (d.get(k) or "").lower() for k in ("definitionId", "title", "description"))
            ]
        key = "title" if q.get("orderField") == "Title" else "definitionId"
        items.sort(key=lambda d: (d.get(key) or "").lower(), reverse=q.get("orderType") == "Desc")
        return Response(200, items[offset : offset + limit])

    def definition_create(self, req: Request) -> Response:
        try:
            return Response(201, self.store.create_definition(req.json()))
        except st.StoreError as exc:
            raise from_store_error(exc, PROBLEM) from exc

    def _definition(self, definition_id: str, family: str = PROBLEM) -> dict[str, Any]:
        definition = self.store.definitions.get(definition_id)
        if definition is None:
            raise ApiError(404, f"Event definition {definition_id} not found", family=family)
        return definition

    def definition_get(self, req: Request) -> Response:
        return Response(200, self._definition(req.path_params["definitionId"]))

    def definition_update(self, req: Request) -> Response:
        self._definition(req.path_params["definitionId"])
        try:
            return Response(200, self.store.update_definition(req.path_params["definitionId"], req.json()))
        except st.StoreError as exc:
            raise from_store_error(exc, PROBLEM) from exc

    # ----- events -----

    def _event_person(self, type_: str, identifier: str, sender: str | None, create: bool) -> dict[str, Any] | None:
        person = self.store.find_person(type_, identifier, sender)
        if person is None and create and type_ in st.AUTO_CREATE_TYPES:
            data = st.PersonInput()
            if type_ == "EXTERNAL_ID":
                data.scalars["externalId"] = identifier
            elif type_ == "EMAIL":
                data.emails = [identifier]
            else:
                data.phones = [identifier]
            person = self.store.create_person(data)
        return person

    def event_send(self, req: Request) -> Response:
        type_ = req.query.get("identifierType")
        identifier = req.path_params["personId"]
        if not type_:
            raise ApiError(400, "identifierType is required", family=PROBLEM)
        body = req.json()
        body = {} if body is None else body
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object", family=PROBLEM)
        event_id = body.get("eventId")
        if event_id is not None and (not isinstance(event_id, str) or not st._EVENT_ID_RE.match(event_id)):
            raise ApiError(
                400,
                "eventId must be 1-36 characters of letters, digits, _ and -",
                family=PROBLEM,
                problems=[
                    {
                        "index": -1,
                        "code": 400504,
                        "message": "Invalid event",
                        "details": [{"property": "eventId", "message": "Must only include A-Z, a-z, 0-9, _ and -."}],
                    }
                ],
            )
        definition = self.store.definitions.get(req.path_params["definitionId"])
        if definition is None:
            raise ApiError(404, f"Event definition {req.path_params['definitionId']} not found")
        if definition["isInternalDefinition"]:
            raise ApiError(
                400,
                "Internal events posting prohibited.",
                family=PROBLEM,
                problems=[{"index": -1, "code": 400506, "message": "Internal events posting prohibited."}],
            )
        problems = self.store.check_event_properties(definition, body.get("properties"))
        if problems:
            raise ApiError(
                400,
                "The event properties do not match the definition",
                family=PROBLEM,
                problems=[
                    {
                        "index": -1,
                        "code": 400501,
                        "message": "The event schema is invalid.",
                        "details": [{"property": p, "message": m} for p, m in problems],
                    }
                ],
            )
        try:
            person = self._event_person(
                type_, identifier, req.query.get("sender"), _bool(req.query.get("createPerson"))
            )
        except st.StoreError as exc:
            raise from_store_error(exc, PROBLEM) from exc
        if person is None:
            raise ApiError(404, f"Person with {type_} {identifier} not found")
        event, _ = self.store.record_event(
            person["id"], definition["definitionId"], event_id, body.get("properties"), st.now_iso()
        )
        return Response(201, event)

    def events_batch(self, req: Request) -> Response:
        items = _batch_items(req.json())
        now = dt.datetime.now(dt.UTC)
        problems: list[dict[str, Any]] = []
        accepted = []
        for index, item in enumerate(items):
            problem, occurred = self._check_batch_event(index, item, now)
            if problem is not None:
                problems.append(problem)
                continue
            assert occurred is not None
            occurred = min(occurred, now)
            accepted.append((item, occurred.strftime("%Y-%m-%dT%H:%M:%S.") + f"{occurred:%f}"[:3] + "Z"))
        if problems:
            raise ApiError(400, "One or more validation errors occurred.", family=PROBLEM, problems=problems)
        with self.store.lock:  # all or nothing: validated above, applied together
            for item, occurred_text in accepted:
                identifier = item["identifier"]
                person = self._event_person(identifier["type"], identifier["id"], identifier.get("sender"), True)
                assert person is not None
                self.store.record_event(
                    person["id"], item["definitionId"], item.get("eventId"), item.get("properties"), occurred_text
                )
        return Response(202, None)

    def _check_batch_event(
        self, index: int, item: Any, now: dt.datetime
    ) -> tuple[dict[str, Any] | None, dt.datetime | None]:
        """(the item's problem or None, its occurred time): shape first, then definition, properties, person."""
        if not isinstance(item, dict):
            return {"index": index, "code": 400504, "message": "Each item must be a JSON object."}, None
        identifier = item.get("identifier") if isinstance(item.get("identifier"), dict) else {}
        occurred = st._parse_iso(item.get("occurredTime"))
        details = _event_item_details(item, identifier, occurred, now)
        if details:
            message = "One or more batch items contain invalid properties."
            return {"index": index, "code": 400504, "message": message, "details": details}, None
        definition = self.store.definitions.get(item["definitionId"])
        if definition is None:
            message = f"The event schema is invalid. Details: definition {item['definitionId']} does not exist."
            return {"index": index, "code": 400501, "message": message}, None
        if definition["isInternalDefinition"]:
            return {"index": index, "code": 400506, "message": "Internal events posting prohibited."}, None
        prop_problems = self.store.check_event_properties(definition, item.get("properties"))
        if prop_problems:
            details = [{"property": p, "message": m} for p, m in prop_problems]
            return {"index": index, "code": 400501, "message": "The event schema is invalid.", "details": details}, None
        try:
            person = self.store.find_person(identifier["type"], identifier["id"], identifier.get("sender"))
        except st.StoreError as exc:
            return {"index": index, "code": 400504, "message": exc.message}, None
        if person is None and identifier["type"] not in st.AUTO_CREATE_TYPES:
            return {"index": index, "code": 400505, "message": "Person with such identifier doesn't exist."}, None
        return None, occurred


def _batch_items(items: Any) -> list[Any]:
    """The body of a batch of events: a non-empty JSON array of at most MAX_EVENT_BATCH items."""
    if not isinstance(items, list):
        message = "Invalid request. Please ensure the request body is a properly structured JSON array."
        raise ApiError(
            400, "Invalid request", family=PROBLEM, problems=[{"index": -1, "code": 400500, "message": message}]
        )
    if not items:
        message = "The batch cannot be empty."
        raise ApiError(400, "Empty batch", family=PROBLEM, problems=[{"index": -1, "code": 400502, "message": message}])
    if len(items) > st.MAX_EVENT_BATCH:
        message = f"The batch count exceeds the allowed limit of {st.MAX_EVENT_BATCH} items."
        raise ApiError(
            400, "Batch too large", family=PROBLEM, problems=[{"index": -1, "code": 400503, "message": message}]
        )
    return items


def _event_item_details(
    item: dict[str, Any], identifier: dict[str, Any], occurred: dt.datetime | None, now: dt.datetime
) -> list[dict[str, str]]:
    """Property problems of one batch item that need no state: required fields, formats, age."""
    details = []
    if not item.get("definitionId"):
        details.append({"property": "definitionId", "message": "Must not be empty."})
    if not identifier.get("id"):
        details.append({"property": "identifier.id", "message": "Must not be empty."})
    if identifier.get("type") not in st.IDENTITY_TYPES:
        details.append({"property": "identifier.type", "message": "Must be a known identifier type."})
    event_id = item.get("eventId")
    if event_id is not None and (not isinstance(event_id, str) or not st._EVENT_ID_RE.match(event_id)):
        details.append({"property": "eventId", "message": "Must only include A-Z, a-z, 0-9, _ and -."})
    if occurred is None:
        details.append({"property": "occurredTime", "message": "Must be yyyy-MM-dd'T'HH:mm:ss.SSSZ."})
    elif occurred < now - dt.timedelta(days=30):
        details.append({"property": "occurredTime", "message": "Must not be older than 30 days."})
    return details
