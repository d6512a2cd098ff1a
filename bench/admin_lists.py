"""Admin list pages at scale: Starling's changelists beside Django's defaults on the same 100,000 reviews.

Seeds a fresh SQLite database in a temporary folder (40,000 companies, 100,000 scraped reviews over
five years and 20 crawl runs, 5,000 visitor reviews), then requests each list page as a signed-in
superuser through Django's test client, alternating our admin with a reference admin registered on a
second AdminSite: the same models with Django's defaults as one would first write them (plain
foreign-key filters for company and crawl run, date_hierarchy, full result counts). Prints per page:
median time, queries and page size for both, and the ratio (reference / ours) of the medians.

    .venv/bin/python bench/admin_lists.py [--reviews 100000] [--companies 40000] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = [
    ("scraped reviews", "reviews/scrapedreview/"),
    ("scraped, 1 star, German", "reviews/scrapedreview/?stars=1&language=de"),
    ("scraped, middle page", "reviews/scrapedreview/?p={middle}"),
    ("companies", "brands/company/"),
    ("visitor reviews", "reviews/userreview/"),
]


def seed(*, companies: int, reviews: int, visitor_reviews: int) -> None:
    """Fill the empty database with companies, crawl runs and reviews in large batches."""
    from django.contrib.auth.models import User
    from django.db import transaction

    from brands.models import Company
    from crawling.models import CrawlRun
    from reviews.labels import stars_to_label
    from reviews.models import ScrapedReview, UserReview

    start = datetime(2020, 1, 1, tzinfo=UTC)
    with transaction.atomic():
        User.objects.create_superuser("bench", "bench@example.com", "bench-password-not-secret")
        made = Company.objects.bulk_create(
            (Company(name=f"Brand {n}", slug=f"brand-{n}", domain=f"brand{n}.example") for n in range(companies)),
            batch_size=5000,
        )
        ids = [c.pk for c in made]
        runs = [CrawlRun.objects.create().pk for _ in range(20)]
        ScrapedReview.objects.bulk_create(
            (
                ScrapedReview(
                    company_id=ids[n % len(ids)],
                    source="trustpilot",
                    source_id=f"r{n}",
                    stars=n % 5 + 1,
                    label=stars_to_label(n % 5 + 1),
                    title=f"Review {n}",
                    text=f"Review number {n}. " + "The parcel arrived on time and support was helpful. " * 3,
                    language=("en", "en", "de", "fr")[n % 4],
                    published_at=start + timedelta(minutes=37 * n),
                    crawl_run_id=runs[n % len(runs)],
                )
                for n in range(reviews)
            ),
            batch_size=5000,
        )
        UserReview.objects.bulk_create(
            (
                UserReview(
                    company_id=ids[n % len(ids)],
                    text=f"Visitor review {n}, quite good overall.",
                    rating=n % 5 + 1,
                    suggested_rating=(n + n % 2) % 5 + 1,
                    score=(n % 100) / 100,
                    model_name="lexicon-vader",
                )
                for n in range(visitor_reviews)
            ),
            batch_size=5000,
        )


def reference_urlconf() -> str:
    """A URLconf with the site's URLs plus /reference-admin/: the same models with default admin options."""
    from django.contrib import admin
    from django.urls import path

    import config.urls
    from brands.models import Company
    from reviews.models import ScrapedReview, UserReview

    site = admin.AdminSite(name="reference")

    @admin.register(ScrapedReview, site=site)
    class ScrapedReviewReference(admin.ModelAdmin):
        list_display = ("id", "text", "company", "stars", "label", "language", "source", "crawl_run", "excluded")
        list_filter = ("excluded", "stars", "label", "language", "source", "company", "crawl_run")
        search_fields = ("text",)
        date_hierarchy = "published_at"

    @admin.register(Company, site=site)
    class CompanyReference(admin.ModelAdmin):
        list_display = ("name", "domain", "is_active", "review_count", "average_stars")
        list_filter = ("is_active", "source", "categories")
        search_fields = ("name", "domain")
        date_hierarchy = "created_at"

    @admin.register(UserReview, site=site)
    class UserReviewReference(admin.ModelAdmin):
        list_display = ("id", "text", "company", "rating", "suggested_rating", "score", "status", "created_at")
        list_filter = ("status", "rating", "company")
        search_fields = ("text",)
        date_hierarchy = "created_at"

    module = types.ModuleType("bench_admin_urls")
    module.urlpatterns = [path("reference-admin/", site.urls), *config.urls.urlpatterns]
    sys.modules[module.__name__] = module
    return module.__name__


def measure(client, url: str) -> tuple[float, int, int]:
    """Seconds, queries and response bytes of one GET."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - started
    assert response.status_code == 200, (url, response.status_code)
    return elapsed, len(queries), len(response.content)


def main() -> None:
    workdir = tempfile.mkdtemp(prefix="starling-admin-bench-")
    try:
        run(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(workdir: str) -> None:
    """Seed the database in `workdir`, measure every page, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=40_000)
    parser.add_argument("--visitor-reviews", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    os.environ["SQLITE_PATH"] = str(Path(workdir) / "bench.sqlite3")
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client
    from django.urls import clear_url_caches

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    seed(companies=args.companies, reviews=args.reviews, visitor_reviews=args.visitor_reviews)
    seeded_s = time.perf_counter() - started
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.ROOT_URLCONF = reference_urlconf()
    clear_url_caches()
    client = Client()
    client.login(username="bench", password="bench-password-not-secret")

    rows = []
    for label, template in PAGES:
        page = template.format(middle=max(1, args.reviews // 100))  # 50 rows a page
        ours_url, reference_url = f"/admin/{page}", f"/reference-admin/{page}"
        measure(client, ours_url), measure(client, reference_url)  # warm-up
        ours, reference = [], []
        for _ in range(args.rounds):  # alternate, so both see the same machine load
            ours.append(measure(client, ours_url))
            reference.append(measure(client, reference_url))
        ours_ms = statistics.median(t for t, _, _ in ours) * 1000
        reference_ms = statistics.median(t for t, _, _ in reference) * 1000
        rows.append(
            {
                "page": label,
                "ours_ms": round(ours_ms, 1),
                "ours_queries": ours[-1][1],
                "ours_kb": round(ours[-1][2] / 1024),
                "reference_ms": round(reference_ms, 1),
                "reference_queries": reference[-1][1],
                "reference_kb": round(reference[-1][2] / 1024),
                "ratio": round(reference_ms / ours_ms, 2),
            }
        )
    machine = {"cores": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 1), "database": "SQLite"}
    sizes = {"companies": args.companies, "scraped_reviews": args.reviews, "visitor_reviews": args.visitor_reviews}
    if args.json:
        print(json.dumps({"machine": machine, "sizes": sizes, "seed_s": round(seeded_s, 1), "pages": rows}))
        return
    print(f"{sizes} seeded in {seeded_s:.0f} s; {machine}; median of {args.rounds} alternating rounds")
    print(f"{'page':26} {'ours ms':>8} {'q':>3} {'KB':>5} | {'reference ms':>12} {'q':>3} {'KB':>6} | ratio")
    for r in rows:
        print(
            f"{r['page']:26} {r['ours_ms']:8.0f} {r['ours_queries']:3d} {r['ours_kb']:5d} | "
            f"{r['reference_ms']:12.0f} {r['reference_queries']:3d} {r['reference_kb']:6d} | {r['ratio']:.1f}x"
        )


if __name__ == "__main__":
    main()
