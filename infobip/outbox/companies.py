"""Pushing companies: batch creates and plain updates, single calls for the rest, deletes by id or name."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace
from typing import Any

from companies.models import Company
from companies.representation import company_as_infobip
from infobip.client import (
    AlreadyExists,
    FoundExisting,
    InfobipError,
    NotFound,
)
from infobip.models import OutboxOp
from infobip.outbox.payloads import CompanyChange, CompanyGone
from infobip.outbox.work import (
    Context,
    Work,
    batch_failed,
    chunks,
    settle,
    with_dependencies,
)


def _company_body(company: Company) -> dict[str, Any]:
    body = company_as_infobip(company)
    body["externalId"] = company.external_id or ""  # Infobip clears an externalId with "" (PATCH keeps a missing key)
    return body


def _company_create_body(company: Company) -> dict[str, Any]:
    return {k: v for k, v in _company_body(company).items() if v not in ("", [], {})}


def push_companies(ctx: Context, works: list[Work]) -> None:
    ids = [int(w.entity_id) for w in works if w.entity_id.isdigit()]
    companies = {c.pk: c for c in Company.objects.filter(realm=ctx.realm, pk__in=ids).prefetch_related("tags")}
    creates, updates = [], []
    for work in works:
        company = companies.get(int(work.entity_id)) if work.entity_id.isdigit() else None
        if company is None:
            delete = next((e for e in reversed(work.entries) if e.op == OutboxOp.DELETE), None)
            gone = CompanyGone.from_json(delete.payload if delete else {})
            settle(work, lambda work=work, gone=gone: _company_delete(ctx, work, gone))
        elif company.infobip_id is None:
            creates.append((work, company))
        else:
            updates.append((work, company))
    updates, relink = _verify_company_links(ctx, updates)
    creates += relink
    if ctx.batching(len(creates)):
        creates = _companies_batch_create(ctx, creates)
    for work, company in creates:
        settle(work, lambda work=work, company=company: _company_create(ctx, work, company))
    # A batch PATCH appends tags and domains (no replace flags there): only changes that leave them alone.
    plain = [
        (w, c) for w, c in updates if not _company_fields(w) & {"tags", "domains"} and OutboxOp.CREATE not in w.ops
    ]
    if ctx.batching(len(plain)):
        _companies_batch_update(ctx, plain)
    for work, company in updates:
        if not work.decided:
            settle(work, lambda work=work, company=company: _company_update(ctx, work, company))


LINK_CHECK_CHUNK = 100  # ids per GET /companies?filter={"#or": [{"id": …}, …]} (the query string stays short)


def _verify_company_links(
    ctx: Context, updates: list[tuple[Work, Company]]
) -> tuple[list[tuple[Work, Company]], list[tuple[Work, Company]]]:
    """Before a PATCH by a stored Infobip id: is that company still ours? Infobip may have lost it and given the id
    to another company (an account restored, the sandbox reset): a PATCH would overwrite that company. One list
    call per 100 companies reads the profiles by id; a company whose profile is gone or carries neither its name
    nor its externalId is treated as a create (the safe create adopts the company with our name, or makes it).
    Returns (updates still linked, updates that become creates)."""
    linked: list[tuple[Work, Company]] = []
    relink: list[tuple[Work, Company]] = []
    for chunk in chunks(updates, LINK_CHECK_CHUNK):
        ids = sorted({int(company.infobip_id) for _, company in chunk})
        clause = {"#or": [{"id": i} for i in ids]} if len(ids) > 1 else {"id": ids[0]}
        query = {"limit": len(ids), "filter": clause}
        try:
            found = ctx.call(
                [w for w, _ in chunk],
                f"GET /people/2/companies?filter=id in [{len(ids)}] (are our Infobip ids still ours?)",
                lambda query=query: ctx.client.list_companies(**query),
            )
        except InfobipError as exc:
            batch_failed([w for w, _ in chunk], exc)
            continue
        profiles = {int(c["id"]): c for c in found.get("companies") or () if c.get("id") is not None}
        for work, company in chunk:
            if _company_profile_is_ours(company, profiles.get(int(company.infobip_id)), work):
                linked.append((work, company))
            else:
                work.clear_infobip_id = True
                relink.append((work, company))
    return linked, relink


def _company_profile_is_ours(company: Any, profile: dict[str, Any] | None, work: Work) -> bool:
    """Whether ``profile`` (by our stored id) is ``company``'s (a Company, or what a delete remembers of one)."""
    if profile is None:
        return False
    theirs_ext = profile.get("externalId") or None
    if company.external_id and theirs_ext:
        return theirs_ext == company.external_id
    if (profile.get("name") or "").lower() == company.name.lower():
        return True
    # A rename not yet pushed: the profile still has the old name, which we no longer know. Ours unless that name
    # is another company's here (then Infobip gave our id to that company's profile).
    return "name" in _company_fields(work) and not (
        Company.objects.filter(realm_id=company.realm_id, name__iexact=profile.get("name") or "")
        .exclude(pk=company.pk)
        .exists()
    )


def _company_fields(work: Work) -> set[str]:
    return {name for entry in work.entries for name in CompanyChange.from_json(entry.payload).fields}


def _companies_batch_update(ctx: Context, updates: list[tuple[Work, Company]]) -> None:
    """PATCH /companies/batch per 1000; a company Infobip refuses goes through the single PATCH."""
    for chunk in chunks(updates, 1000):
        works = [w for w, _ in chunk]
        items = [
            {
                "query": {"id": str(company.infobip_id)},
                "update": {k: v for k, v in _company_body(company).items() if k not in ("tags", "domains")},
            }
            for _, company in chunk
        ]
        try:
            result = ctx.call(
                works,
                f"PATCH /people/2/companies/batch [{len(chunk)}]",
                lambda items=items: ctx.client.update_companies(items),
            )
        except InfobipError as exc:
            batch_failed(works, exc)
            continue
        refused = {str((r.get("query") or {}).get("id")) for r in result.get("results") or []}
        for work, company in chunk:
            if str(company.infobip_id) not in refused:
                ctx.company_ids[company.pk] = company.infobip_id
                work.done()


def _companies_batch_create(ctx: Context, creates: list[tuple[Work, Company]]) -> list[tuple[Work, Company]]:
    """One POST /companies/batch per 1000; returns what the batch did not settle (single calls follow)."""
    left: list[tuple[Work, Company]] = []
    for chunk in chunks(creates, 1000):
        works = [w for w, _ in chunk]
        bodies = [_company_create_body(c) for _, c in chunk]
        try:
            result = ctx.call(
                works,
                f"POST /people/2/companies/batch [{len(chunk)}]",
                lambda bodies=bodies: ctx.client.create_companies(bodies),
            )
        except InfobipError as exc:
            if not batch_failed(works, exc):
                left.extend(chunk)  # refused as a whole: the single creates say which one is wrong
            continue
        by_index = {r.get("index"): r for r in result.get("results") or []}
        for index, (work, company) in enumerate(chunk):
            item = by_index.get(index) or {}
            if item.get("status") == 200 and item.get("id") is not None:
                work.infobip_id = int(item["id"])
                ctx.company_ids[company.pk] = work.infobip_id
                work.done()
            else:
                left.append((work, company))
    return left


def _company_create(ctx: Context, work: Work, company: Company) -> None:
    body = _company_create_body(company)
    try:
        created = ctx.call(
            work,
            f"POST /people/2/companies {company.name}",
            lambda: with_dependencies(ctx, work, lambda: ctx.client.create_company(body)),
        )
    except AlreadyExists:
        existing = ctx.call(work, "GET /people/2/companies?name=", lambda: ctx.client.find_company(name=company.name))
        if existing is None:
            raise
        created = FoundExisting(existing)  # same name is the same company in Infobip: adopt it
    if isinstance(created, FoundExisting):
        # Adopted, or found by the safe create's look-up after a transient failure (ours from a lost response, or
        # one that was there already): only ours would hold our state, so it is written onto it either way.
        ctx.call(
            work,
            f"PATCH /people/2/companies?id={created['id']} (adopt)",
            lambda: with_dependencies(
                ctx,
                work,
                lambda: ctx.client.update_company(
                    _company_body(company), id=created["id"], replace_tags=True, replace_domains=True
                ),
            ),
        )
    work.infobip_id = int(created["id"])
    ctx.company_ids[company.pk] = work.infobip_id


def _company_update(ctx: Context, work: Work, company: Company) -> None:
    try:
        ctx.call(
            work,
            f"PATCH /people/2/companies?id={company.infobip_id}",
            lambda: with_dependencies(
                ctx,
                work,
                lambda: ctx.client.update_company(
                    _company_body(company), id=company.infobip_id, replace_tags=True, replace_domains=True
                ),
            ),
        )
        ctx.company_ids[company.pk] = company.infobip_id
    except NotFound:
        work.clear_infobip_id = True  # deleted in Infobip: make it again
        _company_create(ctx, work, company)


def _company_delete(ctx: Context, work: Work, gone: CompanyGone) -> None:
    """Delete by Infobip id (else by name), unless a newer local company holds that id or name now."""
    if gone.infobip_id:
        selector: dict[str, Any] = {"id": gone.infobip_id}
        holder = Company.objects.filter(realm=ctx.realm, infobip_id=gone.infobip_id)
    elif gone.name:
        selector = {"name": gone.name}
        holder = Company.objects.filter(realm=ctx.realm, name__iexact=gone.name)
    else:
        return
    holder_pk = holder.values_list("pk", flat=True).first()
    if holder_pk is not None:
        work.skip(f"Not deleted in Infobip: company {holder_pk} here holds its {next(iter(selector))} now.")
        return
    if gone.infobip_id and (gone.name or gone.external_id):
        # Is the company by our stored id still ours? Infobip may have given the id to another company.
        found = ctx.call(
            work,
            f"GET /people/2/companies?id={gone.infobip_id} (still ours?)",
            lambda: ctx.client.find_company(id=gone.infobip_id),
        )
        deleted = SimpleNamespace(pk=None, name=gone.name, external_id=gone.external_id, realm_id=ctx.realm.pk)
        if not _company_profile_is_ours(deleted, found, work):
            if not gone.name or Company.objects.filter(realm=ctx.realm, name__iexact=gone.name).exists():
                return  # nothing of ours to delete by id, and no name to look for it by (or a newer company has it)
            selector = {"name": gone.name}
    with contextlib.suppress(NotFound):
        ctx.call(
            work, f"DELETE /people/2/companies?{next(iter(selector))}=", lambda: ctx.client.delete_company(**selector)
        )
