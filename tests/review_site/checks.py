"""Helpers for crawl tests: run `manage.py crawl` as a real process and read back what it stored."""

from __future__ import annotations

import subprocess
import sys

from brands.domains import normalize_domain
from tests.conftest import ROOT

# Small limits so the injected faults (a 4 s stall, a 2 MB page, a listing that never renders) are quick,
# with room for a loaded CI machine.
FAST_LIMITS = {
    "CRAWL_DOWNLOAD_TIMEOUT": "2.5",
    "CRAWL_RENDER_TIMEOUT": "6",
    "CRAWL_DOWNLOAD_MAXSIZE": "1000000",
    "CRAWL_MAX_RETRIES": "2",
}


def crawl_command(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), "crawl", *args]


def run_crawl(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a crawl to the end; fail with its output when it does not succeed."""
    done = subprocess.run(
        crawl_command(*args), cwd=ROOT, env={**env, **FAST_LIMITS}, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"crawl failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done


def stored_reviews() -> dict[str, dict]:
    """What the database holds, in the shape of `Site.served_reviews()`."""
    from reviews.models import ScrapedReview

    rows = ScrapedReview.objects.select_related("company").order_by("source_id")
    return {
        row.source_id: {
            "company": row.company.domain,
            "rating": row.stars,
            "title": row.title,
            "text": row.text,
            "language": row.language,
            "published": row.published_at.strftime("%Y-%m-%dT%H:%M:%S.000Z") if row.published_at else "",
        }
        for row in rows
    }


def normalised(served: dict[str, dict]) -> dict[str, dict]:
    """Served reviews with company domains normalised as the database stores them."""
    return {key: {**value, "company": normalize_domain(value["company"])} for key, value in served.items()}
