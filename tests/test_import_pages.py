"""`manage.py import_pages` stores saved company pages through the crawler's parser and storage."""

from __future__ import annotations

import gzip
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from brands.models import Company
from reviews.models import ScrapedReview
from tests.review_site.content import build_site
from tests.review_site.server import render_company_page

pytestmark = pytest.mark.django_db


def _import(*paths) -> str:
    out = StringIO()
    call_command("import_pages", *map(str, paths), stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_imports_the_real_pages_once_with_their_fields(shared_data):
    folder = shared_data / "trustpilot_pages"
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    unique = {review["id"]: review for page in expected.values() for review in page["reviews"]}

    output = _import(folder)

    assert "Imported 12 of 12 pages" in output
    assert ScrapedReview.objects.count() == len(unique)
    stored = ScrapedReview.objects.select_related("company").get(source_id="66753e394753b480b0081de4")
    assert (stored.stars, stored.label, stored.language, stored.title) == (5, "good", "no", "Lytter til klager!")
    assert stored.company.domain == "burgerking.no"
    assert stored.published_at.isoformat() == "2024-06-21T10:47:53+00:00"
    twenix = Company.objects.get(domain="twenix.es")
    assert (twenix.name, twenix.source_review_count, twenix.source_trust_score) == ("Twenix", 129, 4.4)
    assert list(twenix.categories.values_list("name", flat=True)) == ["Educational Institution"]
    assert twenix.review_count == ScrapedReview.objects.filter(company=twenix).count() > 0

    again = _import(folder)
    assert "0 new reviews, 0 updated" in again
    assert ScrapedReview.objects.count() == len(unique)


def test_it_imports_plain_html_and_skips_invalid_reviews(tmp_path):
    site = build_site(use_shared_data=False)
    company = next(iter(site.companies.values()))
    company.pages[0][0].rating = 9
    page = tmp_path / "page.html"
    page.write_text(render_company_page(company, 1, {}), encoding="utf-8")
    (tmp_path / "page2.html.gz").write_bytes(gzip.compress(render_company_page(company, 2, {}).encode()))

    output = _import(page, tmp_path / "page2.html.gz")

    assert "Imported 2 of 2 pages" in output and "1 skipped" in output
    assert ScrapedReview.objects.count() == 2 * len(company.pages[0]) - 1
    assert not ScrapedReview.objects.filter(source_id=company.pages[0][0].id).exists()


def test_imported_companies_start_closed_to_reviews_and_keep_what_staff_chose(tmp_path):
    site = build_site(use_shared_data=False)
    company = next(iter(site.companies.values()))
    page = tmp_path / "page.html"
    page.write_text(render_company_page(company, 1, {}), encoding="utf-8")

    output = _import(page)

    imported = Company.objects.get()
    assert imported.is_active is False
    assert "1 new company starts closed to reviews" in output and "Open to reviews" in output
    Company.objects.filter(pk=imported.pk).update(is_active=True)  # staff opened it

    again = _import(page)

    assert Company.objects.get().is_active is True
    assert "closed to reviews" not in again


def test_it_explains_bad_paths(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        _import(tmp_path / "missing.html")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CommandError, match="not a saved page"):
        _import(tmp_path / "notes.txt")
    (tmp_path / "broken.html").write_text("<html><body>nothing here</body></html>")
    with pytest.raises(CommandError, match="None of the pages could be imported"):
        _import(tmp_path / "broken.html")
    assert ScrapedReview.objects.count() == 0
