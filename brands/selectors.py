"""Reads of brands: a random one to review, the searchable list, one brand's page, which company a brand is."""

from __future__ import annotations

import random
from collections.abc import Iterable

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Lower

from brands.domains import normalize_domain
from brands.models import Category, Company

# How the brand list can be ordered: the value of `?sort=` (and the API's `?ordering=`) → the ORDER BY.
# Names sort as people read them, whatever their case (Adidas, ASOS, eBay, easyJet); the name itself
# breaks ties between names that differ only in case, and the id between equal names.
_BY_NAME = (Lower("name"), "name", "pk")
COMPANY_SORTS: dict[str, tuple] = {
    "rating": (F("average_stars").desc(nulls_last=True), "-review_count", *_BY_NAME),
    "reviews": ("-review_count", F("average_stars").desc(nulls_last=True), *_BY_NAME),
    "name": _BY_NAME,
}
DEFAULT_COMPANY_SORT = "rating"


def company_random_active(*, exclude_slugs: Iterable[str] = ()) -> Company | None:
    """A random brand open for reviews, avoiding `exclude_slugs` (oldest first) where another brand is left.

    When every brand is excluded it still avoids the last slug (the brand just shown) if it can.
    """
    active = Company.objects.filter(is_active=True).order_by("pk")
    excluded = [slug for slug in exclude_slugs if slug]
    attempts = [active.exclude(slug__in=excluded), active.exclude(slug=excluded[-1]), active] if excluded else [active]
    for candidates in attempts:
        # A random offset instead of ORDER BY RANDOM(): two cheap queries on any table size.
        count = candidates.count()
        if count:
            return candidates.prefetch_related("categories")[random.randrange(count)]
    return None


def company_active_by_slug(*, slug: str) -> Company | None:
    """The brand with this slug if it is open for reviews."""
    return Company.objects.filter(slug=slug, is_active=True).first()


def company_list(*, query: str = "", category: Category | None = None, sort: str = DEFAULT_COMPANY_SORT) -> QuerySet:
    """Active brands whose name contains `query`, in `category` or one of its sub-categories, sorted."""
    companies = Company.objects.filter(is_active=True)
    if query:
        companies = companies.filter(name__icontains=query)
    if category is not None:
        companies = companies.filter(Q(categories=category) | Q(categories__parent=category)).distinct()
    return companies.order_by(*COMPANY_SORTS.get(sort, COMPANY_SORTS[DEFAULT_COMPANY_SORT]))


def category_choices() -> list[Category]:
    """Categories holding an active brand (directly or through a sub-category), each parent before its children."""
    used = Category.objects.filter(Q(companies__is_active=True) | Q(children__companies__is_active=True)).values_list(
        "pk", flat=True
    )
    categories = Category.objects.filter(pk__in=used).select_related("parent")
    return sorted(categories, key=lambda c: (c.parent.name if c.parent else c.name, c.parent_id is not None, c.name))


def category_by_slug(*, slug: str) -> Category | None:
    """The category with this slug, if any."""
    return Category.objects.filter(slug=slug).first() if slug else None


def company_by_slug(*, slug: str) -> Company | None:
    """Any brand by slug, active or not (its page stays reachable)."""
    return Company.objects.filter(slug=slug).prefetch_related("categories").first()


def company_website_url(company: Company) -> str:
    """The brand's website as a link target: only http(s) addresses, so no `javascript:` URL reaches a page."""
    website = (company.website or "").strip()
    if website.lower().startswith(("http://", "https://")):
        return website
    return f"https://{company.domain}/" if company.domain else ""


def company_matching(*, domain: str = "", name: str = "") -> Company | None:
    """The company a brand with this domain or name already is: by normalised domain, else by name
    (case-insensitive) among companies that have no domain. The one rule every writer of companies uses."""
    domain = normalize_domain(domain)
    if domain and (found := Company.objects.filter(domain=domain).first()):
        return found
    name = (name or "").strip()
    return Company.objects.filter(name__iexact=name, domain__isnull=True).first() if name else None


_LOOKUP_BATCH = 500  # values per IN (...) query, well under every database's limit on parameters


def companies_matching(brands: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, str | None]]:
    """company_matching for many (domain, name) pairs in a few queries, for bulk loads.

    Maps each pair that matches a company to that company's id and domain: its domain when it matched by
    domain, None when it matched by name (a company without a domain). Pairs that match nothing are left out.
    """
    wanted = {pair: (normalize_domain(pair[0]), (pair[1] or "").strip().lower()) for pair in brands}
    domains = sorted({domain for domain, _ in wanted.values() if domain})
    by_domain: dict[str, int] = {}
    for start in range(0, len(domains), _LOOKUP_BATCH):
        batch = domains[start : start + _LOOKUP_BATCH]
        by_domain.update(Company.objects.filter(domain__in=batch).values_list("domain", "pk"))
    names = sorted({name for domain, name in wanted.values() if name and domain not in by_domain})
    by_name: dict[str, int] = {}
    for start in range(0, len(names), _LOOKUP_BATCH):
        batch = names[start : start + _LOOKUP_BATCH]
        by_name.update(
            Company.objects.filter(domain__isnull=True)
            .annotate(lower_name=Lower("name"))
            .filter(lower_name__in=batch)
            .values_list("lower_name", "pk")
        )
    matched: dict[tuple[str, str], tuple[int, str | None]] = {}
    for pair, (domain, name) in wanted.items():
        if domain in by_domain:
            matched[pair] = (by_domain[domain], domain)
        elif name in by_name:
            matched[pair] = (by_name[name], None)
    return matched
