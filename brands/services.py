"""Writes to brands: companies and categories."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import models
from django.utils.text import slugify

from brands.domains import normalize_domain
from brands.models import RESERVED_COMPANY_SLUGS, Category, Company
from brands.selectors import company_matching

# Room left below the slug field's max_length for the "-N" that makes a slug unique.
_SLUG_SUFFIX_ROOM = 8


def unique_slug(model: type[models.Model], base: str, *, taken: set[str] | None = None) -> str:
    """A slug for a new `model` row from `base` (`name`, `name-2`, ...): fits the model's slug field, is
    not reserved (RESERVED_COMPANY_SLUGS for companies) and is not used yet.

    `taken`, when given, holds every slug in use (the table's, read once, and those handed out in the same
    batch) and the new slug is added to it; without it each candidate is looked up in the table.
    """
    max_length = model._meta.get_field("slug").max_length
    reserved = RESERVED_COMPANY_SLUGS if model is Company else frozenset()
    root = (slugify(base) or "item")[: max_length - _SLUG_SUFFIX_ROOM]

    def used(slug: str) -> bool:
        if slug in reserved:
            return True
        return slug in taken if taken is not None else model.objects.filter(slug=slug).exists()

    slug, n = root, 1
    while used(slug):
        n += 1
        slug = f"{root}-{n}"
    if taken is not None:
        taken.add(slug)
    return slug


def category_upsert(*, name: str, slug: str = "", parent: Category | None = None, source_id: str = "") -> Category:
    """Create or update a category by slug (derived from the name when not given)."""
    slug = slugify(slug or name)[: Category._meta.get_field("slug").max_length] or unique_slug(Category, name)
    category, created = Category.objects.get_or_create(
        slug=slug, defaults={"name": name, "parent": parent, "source_id": source_id}
    )
    if not created:
        changed = {
            field: value
            for field, value in (("name", name), ("parent", parent), ("source_id", source_id))
            if value and getattr(category, field) != value
        }
        if changed:
            for field, value in changed.items():
                setattr(category, field, value)
            category.save(update_fields=[*changed, "updated_at"])
    return category


def company_upsert(*, name: str, domain: str = "", website: str = "", source: str = "", **fields: object) -> Company:
    """Find a company by normalised domain (else by name when it has no domain) and create or update it."""
    domain = normalize_domain(domain or website)
    company = company_matching(domain=domain, name=name)
    if company is None:
        return Company.objects.create(
            name=name.strip(),
            slug=unique_slug(Company, name),
            domain=domain or None,
            website=website,
            source=source,
            **fields,
        )
    updates: dict[str, object] = {"name": name.strip(), "website": website, **fields}
    if domain and not company.domain:
        updates["domain"] = domain
    changed = [f for f, v in updates.items() if v not in ("", None) and getattr(company, f) != v]
    for field in changed:
        setattr(company, field, updates[field])
    if changed:
        company.save(update_fields=[*changed, "updated_at"])
    return company


def companies_create(*, rows: Iterable[dict[str, str]], source: str, is_active: bool = True) -> list[Company]:
    """Create many new companies at once (rows of name/domain/website) with unique slugs; returns them.

    For bulk loads that have already looked each company up the way company_upsert does and found
    nothing; domains are normalised here as there.
    """
    rows = list(rows)
    if not rows:
        return []
    taken = set(Company.objects.values_list("slug", flat=True))
    companies = [
        Company(
            name=row["name"].strip(),
            slug=unique_slug(Company, row["name"], taken=taken),
            domain=normalize_domain(row.get("domain") or row.get("website") or "") or None,
            website=row.get("website", ""),
            source=source,
            is_active=is_active,
        )
        for row in rows
    ]
    return Company.objects.bulk_create(companies, batch_size=500)


def company_set_active(*, company_ids: Iterable[int], active: bool) -> int:
    """Show or hide companies on the review form; returns how many changed."""
    return Company.objects.filter(pk__in=list(company_ids)).exclude(is_active=active).update(is_active=active)
