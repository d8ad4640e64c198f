"""Tags and custom attributes endpoints."""

from __future__ import annotations

from typing import Any

from infobip.sandbox import store as st
from infobip.sandbox.handlers.base import (
    ApiError,
    Request,
    Response,
    _bool,
    _int_param,
    _order_by,
    from_store_error,
)


class TagsHandlers:
    """Handlers of /people/2/tags* and /people/2/customAttributes*."""

    store: st.Store

    # ----- tags -----

    def _paged(self, req: Request, items: list[dict[str, Any]], key: str) -> tuple[list[dict[str, Any]], dict]:
        q = req.query
        limit = _int_param(q, "limit", 20, 1, 1000)
        page = _int_param(q, "page", 1, 1)
        order_by = _order_by(q, ("name", "createdAt", "modifiedAt"))
        if order_by:
            name, _, direction = order_by.partition(":")
            items = sorted(items, key=lambda t: (t.get(name) or "", t.get("id", 0)), reverse=direction == "desc")
        envelope: dict[str, Any] = {"limit": limit, "page": page}
        if order_by:
            envelope["orderBy"] = order_by
        if _bool(q.get("includeTotalCount")):
            envelope["totalCount"] = len(items)
        return items[(page - 1) * limit : page * limit], envelope

    def tags_list(self, req: Request) -> Response:
        with self.store.lock:
            tags = list(self.store.tags.values())
        page, envelope = self._paged(req, tags, "tags")
        if self.tags_list_style == "array":
            return Response(200, page)
        return Response(200, {"tags": page, **envelope})

    def tag_create(self, req: Request) -> Response:
        try:
            return Response(200, self.store.create_tag(req.json_object().get("name")))
        except st.StoreError as exc:
            raise from_store_error(exc) from exc

    def _tag(self, req: Request) -> dict[str, Any]:
        tag = self.store.tags.get(req.path_params["name"])
        if tag is None:
            raise ApiError(404, f"Tag {req.path_params['name']} not found")
        return tag

    def tag_get(self, req: Request) -> Response:
        return Response(200, self._tag(req))

    def tag_delete(self, req: Request) -> Response:
        self._tag(req)
        self.store.delete_tag(req.path_params["name"])
        return Response(200, None)

    def tag_add_persons(self, req: Request) -> Response:
        tag = self._tag(req)
        for person_id in self._people_ids(req):
            self.store.set_person_tags(person_id, add=[tag["name"]])
        return Response(200, None)

    def tag_remove_persons(self, req: Request) -> Response:
        tag = self._tag(req)
        for person_id in self._people_ids(req):
            self.store.set_person_tags(person_id, remove=[tag["name"]])
        return Response(200, None)

    # ----- custom attributes -----

    def custom_attributes_list(self, req: Request) -> Response:
        with self.store.lock:
            items = list(self.store.custom_attributes.values())
        page, envelope = self._paged(req, items, "customAttributes")
        return Response(200, {**envelope, "customAttributes": page})

    def custom_attribute_create(self, req: Request) -> Response:
        try:
            return Response(200, self.store.create_custom_attribute(req.json()))
        except st.StoreError as exc:
            raise from_store_error(exc) from exc

    def custom_attribute_get(self, req: Request) -> Response:
        definition = self.store.custom_attributes.get(req.path_params["name"])
        if definition is None:
            raise ApiError(404, f"Custom attribute {req.path_params['name']} not found")
        return Response(200, definition)

    def custom_attribute_delete(self, req: Request) -> Response:
        try:
            self.store.delete_custom_attribute(req.path_params["name"])
        except st.StoreError as exc:
            raise from_store_error(exc) from exc
        return Response(200, None)
