"""Rows the tests build again and again: plain functions with the usual defaults, each one overridable."""

from __future__ import annotations

import itertools
import random
import shutil
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.utils.text import slugify

from brands.models import Category, Company
from brands.services import category_upsert, company_upsert
from ml.models import ModelVersion
from ml.services import model_version_register
from reviews.labels import stars_to_label
from reviews.models import ScrapedReview, UserReview

PASSWORD = "pw-for-tests-only"
_source_ids = itertools.count(1)


def company_create(*, name: str = "Acme Shoes", **fields: object) -> Company:
    """An active company made the way the site makes them; its domain follows from the name unless given."""
    fields.setdefault("domain", f"{slugify(name)}.example")
    return company_upsert(name=name, **fields)


def category_create(*, name: str = "Shoes", **fields: object) -> Category:
    """A category (a top-level one unless `parent` is given)."""
    return category_upsert(name=name, **fields)


def scraped_review_create(*, company: Company, stars: int = 4, **fields: object) -> ScrapedReview:
    """A review as the crawler stores it: labelled from its stars, with a source id of its own."""
    fields.setdefault("source", "trustpilot")
    fields.setdefault("source_id", f"r{next(_source_ids)}")
    fields.setdefault("label", stars_to_label(stars))
    fields.setdefault("text", "A review from the review site.")
    return ScrapedReview.objects.create(company=company, stars=stars, **fields)


def user_review_create_row(
    *, company: Company, text: str = "A visitor's review.", rating: int = 4, **fields: object
) -> UserReview:
    """A visitor's review written straight to the table: no scoring, no aggregates, no checks."""
    return UserReview.objects.create(company=company, text=text, rating=rating, **fields)


def user_create(username: str = "outsider", **fields: object) -> User:
    """A signed-up user who is not staff."""
    return User.objects.create_user(username, f"{username}@example.com", PASSWORD, **fields)


def staff_user_create(username: str = "staff", **fields: object) -> User:
    """A staff member with every permission (a superuser), as `createsuperuser` makes one."""
    return User.objects.create_superuser(username, f"{username}@example.com", PASSWORD, **fields)


def model_version_create(*, name: str, checkpoint: Path, architecture: str = "fasttext", **fields) -> ModelVersion:
    """`checkpoint` copied under this test's ML_MODELS_DIR and registered as an inactive version."""
    target = Path(settings.ML_MODELS_DIR) / f"{name}.pt"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(checkpoint, target)
    for field in ("hyperparameters", "dataset", "metrics"):
        fields.setdefault(field, {})
    return model_version_register(name=name, architecture=architecture, checkpoint_path=target, **fields)


# Training data: short review texts a tiny model learns in seconds.
WORDS = {
    1: ["awful", "terrible", "rude", "broken", "never again", "scam", "refund refused", "worst"],
    3: ["okay", "average", "fine but slow", "mixed feelings", "so-so", "could be better", "not bad"],
    5: ["excellent", "great", "fast delivery", "friendly staff", "love it", "perfect", "highly recommend"],
}


def review_texts(stars: int, count: int, seed: int = 0) -> list[str]:
    """Distinct, learnable review texts for a star rating."""
    rng = random.Random(seed * 10 + stars)
    return [
        f"{rng.choice(WORDS[stars]).capitalize()} service, {rng.choice(WORDS[stars])} and {rng.choice(WORDS[stars])}. "
        f"Order {n}."
        for n in range(count)
    ]


def labelled_reviews_create(per_class: int = 30, *, language: str = "en") -> None:
    """Scraped reviews for every class, written to the test database."""
    company = company_upsert(name="Acme", domain="acme.example")
    for stars in (1, 3, 5):
        for n, text in enumerate(review_texts(stars, per_class)):
            ScrapedReview.objects.create(
                company=company,
                source="test",
                source_id=f"{stars}-{n}-{language}",
                stars=stars,
                label=stars_to_label(stars),
                text=text,
                language=language,
            )


def tiny_rows(per_class: int = 30) -> list[tuple[str, str, str]]:
    """(id, text, label) rows for training without the database."""
    return [
        (f"{stars}-{n}", text, stars_to_label(stars))
        for stars in (1, 3, 5)
        for n, text in enumerate(review_texts(stars, per_class))
    ]


def shipped_model_name() -> str:
    """What the site serves while no model version is active: the default model shipped in the repository."""
    from ml.shipped import shipped_model

    return shipped_model().meta["name"]
