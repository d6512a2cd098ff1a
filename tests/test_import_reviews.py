"""`manage.py import_reviews`: labelled CSV rows become training data, all or nothing, never twice."""

from __future__ import annotations

from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from brands.models import Company
from brands.services import company_upsert
from reviews.models import ScrapedReview

pytestmark = pytest.mark.django_db

HEADER = "text,label,company_name,company_website\n"


def import_reviews(*args: str) -> str:
    out = StringIO()
    call_command("import_reviews", *map(str, args), stdout=out, stderr=StringIO())
    return out.getvalue()


def write(tmp_path: Path, content: str | bytes, name: str = "reviews.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_the_real_sample_imported_twice_is_stored_once(shared_data):
    sample = shared_data / "trustpilot_reviews_sample.csv"

    first = import_reviews(sample)
    second = import_reviews(sample)

    assert ScrapedReview.objects.count() == 4800
    assert "stored:     4800" in first and "rejected:   0" in first
    assert "stored:     0" in second and "duplicates: 4800" in second
    labels = Counter(ScrapedReview.objects.values_list("label", flat=True))
    assert labels == {"bad": 1600, "average": 1600, "good": 1600}
    assert set(ScrapedReview.objects.values_list("source", flat=True)) == {"import"}
    # The sample repeats one review word for word ("Fast and easy", Speedy Cash): both are kept.
    assert ScrapedReview.objects.filter(text="Fast and easy", company__name="Speedy Cash").count() == 2
    # Companies are matched by their website's domain; new ones wait for staff before the form offers them.
    tiger = Company.objects.get(domain="tigerdirect.com")
    assert tiger.website == "http://www.tigerdirect.com"
    assert not Company.objects.filter(is_active=True).exists()


def test_ratings_become_stars_with_their_label_and_brand_aggregates_follow(tmp_path):
    path = write(
        tmp_path,
        "body,stars,brand\n"
        "Terrible support and late delivery,1,Acme\n"
        "It was fine I suppose,3,Acme\n"
        "Wonderful people to deal with,5.0,Acme\n",
    )

    output = import_reviews(path, "--text-column", "body", "--rating-column", "stars", "--company-column", "brand")

    assert "stored:     3" in output
    assert sorted(ScrapedReview.objects.values_list("stars", "label")) == [(1, "bad"), (3, "average"), (5, "good")]
    acme = Company.objects.get(name="Acme")
    assert (acme.review_count, acme.average_stars, acme.stars_5) == (3, 3.0, 1)


def test_a_bad_row_stores_nothing_and_names_its_line(tmp_path):
    path = write(
        tmp_path,
        HEADER + "Great shop,good,Shop,https://shop.example\n"
        '"A review over\ntwo lines",average,Shop,https://shop.example\n'
        "Awful,terrible,Shop,https://shop.example\n",
    )

    with pytest.raises(CommandError) as error:
        import_reviews(path)

    assert "line 5: label 'terrible' is not one of bad, average, good" in str(error.value)
    assert "--skip-bad-rows" in str(error.value)
    assert ScrapedReview.objects.count() == 0
    assert Company.objects.count() == 0


def test_skip_bad_rows_imports_the_rest_and_reports_each_rejected_line(tmp_path):
    path = write(
        tmp_path,
        HEADER + "Great shop,good,Shop,https://shop.example\n"
        ",bad,Shop,https://shop.example\n"
        "Fine,average,,https://shop.example\n"
        "Too,many,fields,here,really\n",
    )

    output = import_reviews(path, "--skip-bad-rows")

    assert ScrapedReview.objects.count() == 1
    assert "read:       4" in output and "stored:     1" in output and "rejected:   3" in output
    assert "line 3: the text is empty" in output
    assert "line 4: the company name is empty" in output
    assert "line 5: has 5 fields, the header has 4" in output


def test_a_rating_outside_one_to_five_is_rejected(tmp_path):
    path = write(tmp_path, "text,rating,company_name\nGood,6,Shop\nMeh,three,Shop\nOk,2.5,Shop\n")

    with pytest.raises(CommandError) as error:
        import_reviews(path, "--rating-column", "rating")

    message = str(error.value)
    assert "line 2: rating '6' is not a whole number from 1 to 5" in message
    assert "line 3: rating 'three'" in message and "line 4: rating '2.5'" in message
    assert ScrapedReview.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (HEADER.encode(), "has a header but no rows"),
        (b"text,label,company_name\nCaf\xe9 was good,good,Cafe\n", "is not UTF-8 text (line 2"),
        (b"text;label;company_name\nGood;good;Shop\n", "separated by semicolons"),
        (b"text,company_name\nGood,Shop\n", "no 'label' (label) column"),
    ],
    ids=["empty", "header-only", "latin-1", "semicolons", "missing-label-column"],
)
def test_a_malformed_file_gets_a_clear_message_and_stores_nothing(tmp_path, content, expected):
    path = write(tmp_path, content)

    with pytest.raises(CommandError) as error:
        import_reviews(path)

    assert expected in str(error.value)
    assert ScrapedReview.objects.count() == 0


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        import_reviews(tmp_path / "nope.csv")


def test_rows_join_an_existing_brand_by_domain_and_leave_it_active(tmp_path):
    amazon = company_upsert(name="Amazon", domain="amazon.com", source="starter")
    path = write(tmp_path, HEADER + "Parcel came early,good,Amazon.com Inc,https://www.amazon.com/?utm_source=x\n")

    import_reviews(path)

    review = ScrapedReview.objects.get()
    assert review.company_id == amazon.pk
    amazon.refresh_from_db()
    assert amazon.is_active and amazon.name == "Amazon"
    assert Company.objects.count() == 1


def test_identical_rows_are_separate_reviews_but_a_reimport_adds_none(tmp_path):
    path = write(tmp_path, HEADER + "Fast and easy,good,Shop,\n" * 2)

    import_reviews(path)
    output = import_reviews(path)

    assert ScrapedReview.objects.count() == 2
    assert "duplicates: 2" in output


def test_unusual_line_separators_inside_a_text_stay_in_the_text(tmp_path):
    path = write(tmp_path, HEADER + "First part\u2028second part\x85third,good,Shop,\nNext review,bad,Shop,\n")

    output = import_reviews(path)

    assert "stored:     2" in output
    assert ScrapedReview.objects.filter(text="First part\u2028second part\x85third").exists()


def test_a_website_column_named_by_the_user_must_exist(tmp_path):
    path = write(tmp_path, "text,label,company_name\nGreat,good,Shop\n")

    with pytest.raises(CommandError, match="no 'site' \\(website\\) column"):
        import_reviews(path, "--website-column", "site")
    assert "stored:     1" in import_reviews(path)
