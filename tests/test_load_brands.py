"""`manage.py load_brands`: the starter brands, brand lists from CSV, idempotent and all-or-nothing."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from brands.catalog import STARTER_BRANDS_CSV, brand_rows_read
from brands.models import Category, Company
from brands.services import company_upsert

pytestmark = pytest.mark.django_db

# Trustpilot's top-level category names, as in ../shared/data/trustpilot_company_urls.csv.gz.
TRUSTPILOT_CATEGORIES = {
    "Animals & Pets", "Beauty & Well-being", "Business Services", "Construction & Manufacturing",
    "Education & Training", "Electronics & Technology", "Events & Entertainment", "Food, Beverages & Tobacco",
    "Health & Medical", "Hobbies & Crafts", "Home & Garden", "Home Services", "Legal Services & Government",
    "Media & Publishing", "Money & Insurance", "Public & Local Services", "Restaurants & Bars",
    "Shopping & Fashion", "Sports", "Travel & Vacation", "Utilities", "Vehicles & Transportation",
}  # fmt: skip


def load_brands(*args: str) -> str:
    out = StringIO()
    call_command("load_brands", *map(str, args), stdout=out)
    return out.getvalue()


def test_starter_list_loads_sixty_plus_brands_in_trustpilot_categories():
    output = load_brands()

    assert Company.objects.count() >= 60
    assert "created" in output
    top_level = set(Category.objects.filter(parent__isnull=True).values_list("name", flat=True))
    assert len(top_level) >= 8
    assert top_level <= TRUSTPILOT_CATEGORIES
    amazon = Company.objects.get(domain="amazon.com")
    assert amazon.is_active and amazon.source == "starter"
    assert {c.name for c in amazon.categories.all()} == {"Shopping & Fashion", "Online Marketplace"}
    assert Category.objects.get(name="Online Marketplace").parent.name == "Shopping & Fashion"


def test_loading_again_changes_nothing_and_says_so():
    load_brands()
    before = list(Company.objects.order_by("pk").values_list("pk", "updated_at"))

    output = load_brands()

    assert "nothing changed" in output
    assert list(Company.objects.order_by("pk").values_list("pk", "updated_at")) == before


def test_if_empty_leaves_a_database_with_companies_alone():
    company_upsert(name="Local Bakery", domain="bakery.example")

    output = load_brands("--if-empty")

    assert "not loaded" in output
    assert Company.objects.count() == 1


def test_a_csv_list_adds_brands_and_updates_a_known_one(tmp_path: Path):
    load_brands()
    path = tmp_path / "more.csv"
    path.write_text(
        "name,domain,website,category,sub_category\n"
        "Corner Books,cornerbooks.example,https://cornerbooks.example,Media & Publishing,Book Store\n"
        "Amazon,amazon.com,https://www.amazon.com,Shopping & Fashion,Online Marketplace\n"
        "Netflix,netflix.com,https://www.netflix.com,Media & Publishing,Media Company\n",
        encoding="utf-8",
    )

    output = load_brands("--csv", path)

    assert "1 created, 1 updated, 1 unchanged" in output
    assert Company.objects.get(domain="cornerbooks.example").source == "import"
    netflix = Company.objects.get(domain="netflix.com")
    assert "Media Company" in {c.name for c in netflix.categories.all()}


def test_a_bad_csv_names_its_lines_and_stores_nothing(tmp_path: Path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "name,domain,website,category\n"
        "Good One,good.example,https://good.example,Sports\n"
        ",empty.example,,Sports\n"
        "Twice,good.example,,Sports\n"
        "Broken Site,broken.example,not a url,Sports\n",
        encoding="utf-8",
    )

    with pytest.raises(CommandError) as error:
        load_brands("--csv", path)

    message = str(error.value)
    assert "line 3: the name is empty" in message
    assert "line 4: domain good.example is already used on line 2" in message
    assert "line 5: website 'not a url' is not an http(s) address" in message
    assert Company.objects.count() == 0
    assert Category.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "is empty"),
        ("name;category\nX;Sports\n", "has no 'name', 'category' column"),
        ("name,category\n", "no brands"),
    ],
)
def test_a_malformed_list_gets_a_clear_message(tmp_path: Path, content: str, expected: str):
    path = tmp_path / "list.csv"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CommandError, match=expected):
        load_brands("--csv", path)


def test_the_shipped_list_is_valid_with_unique_domains():
    rows = brand_rows_read(STARTER_BRANDS_CSV.read_text(encoding="utf-8"))

    assert len(rows) >= 60
    assert len({row.domain for row in rows}) == len(rows)
    assert all(row.website.startswith("https://") and row.sub_category for row in rows)
