"""Writes to brands: companies, categories and their review aggregates."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Avg, Count
from django.utils.text import slugify

from brands.domains import normalize_domain
from brands.models import RESERVED_COMPANY_SLUGS, STAR_FIELDS, Category, Company


def unique_slug(model: type, base: str, *, max_length: int = 200, reserved: frozenset[str] = frozenset()) -> str:
    """A slug from `base` that no row of `model` uses yet and is not `reserved` (`name`, `name-2`, ...)."""
    root = (slugify(base) or "item")[: max_length - 8]
    slug, n = root, 1
    while slug in reserved or model.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{root}-{n}"
    return slug


def category_upsert(*, name: str, slug: str = "", parent: Category | None = None, source_id: str = "") -> Category:
    """Create or update a category by slug (derived from the name when not given)."""
    slug = slugify(slug or name)[:200] or unique_slug(Category, name)
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
    company = None
    if domain:
        company = Company.objects.filter(domain=domain).first()
    if company is None:
        company = Company.objects.filter(name__iexact=name.strip(), domain__isnull=True).first()
    if company is None:
        return Company.objects.create(
            name=name.strip(),
            slug=unique_slug(Company, name, max_length=255, reserved=RESERVED_COMPANY_SLUGS),
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
    taken = set(Company.objects.values_list("slug", flat=True)) | RESERVED_COMPANY_SLUGS
    companies = []
    for row in rows:
        root = (slugify(row["name"]) or "item")[:247]
        slug, n = root, 1
        while slug in taken:
            n += 1
            slug = f"{root}-{n}"
        taken.add(slug)
        companies.append(
            Company(
                name=row["name"].strip(),
                slug=slug,
                domain=normalize_domain(row.get("domain") or row.get("website") or "") or None,
                website=row.get("website", ""),
                source=source,
                is_active=is_active,
            )
        )
    return Company.objects.bulk_create(companies, batch_size=500)


def company_refresh_aggregates(company_ids: Iterable[int]) -> None:
    """Recompute review counts, star distribution, average stars and mean sentiment from the reviews.

    Counts scraped reviews that carry stars and visible visitor reviews. The company rows are locked
    first, so concurrent writers serialise per company and the last one to commit sees every review.
    """
    from reviews.models import ScrapedReview, UserReview

    ids = sorted(set(company_ids))
    if not ids:
        return
    with transaction.atomic():
        list(Company.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
        counts: dict[int, dict[int, int]] = {pk: dict.fromkeys(range(1, 6), 0) for pk in ids}
        scraped = (
            ScrapedReview.objects.filter(company_id__in=ids, stars__isnull=False)
            .values_list("company_id", "stars")
            .annotate(n=Count("id"))
            .order_by()
        )
        visitors = (
            UserReview.objects.filter(company_id__in=ids, status=UserReview.Status.VISIBLE)
            .values_list("company_id", "rating")
            .annotate(n=Count("id"))
            .order_by()
        )
        for company_id, stars, n in [*scraped, *visitors]:
            counts[company_id][stars] += n
        sentiment = {
            row["company_id"]: row
            for row in UserReview.objects.filter(company_id__in=ids, status=UserReview.Status.VISIBLE)
            .values("company_id")
            .annotate(n=Count("id"), mean=Avg("score"))
            .order_by()
        }
        for company_id, by_star in counts.items():
            total = sum(by_star.values())
            average = sum(star * n for star, n in by_star.items()) / total if total else None
            row = sentiment.get(company_id, {})
            Company.objects.filter(pk=company_id).update(
                review_count=total,
                average_stars=round(average, 4) if average is not None else None,
                user_review_count=row.get("n", 0),
                mean_sentiment=row.get("mean"),
                **{field: by_star[star] for star, field in enumerate(STAR_FIELDS, start=1)},
            )


def company_set_active(*, company_ids: Iterable[int], active: bool) -> int:
    """Show or hide companies on the review form; returns how many changed."""
    return Company.objects.filter(pk__in=list(company_ids)).exclude(is_active=active).update(is_active=active)
