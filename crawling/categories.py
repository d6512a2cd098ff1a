"""Stage 1: the category tree from `/categories`, over plain HTTP (the page is static)."""

from __future__ import annotations

from django.db import transaction

from brands.models import Category
from brands.services import category_upsert
from crawling.fetching import RobotsRules, fetch_text
from crawling.parsing import parse_categories_page


def categories_crawl(*, start_url: str, robots: RobotsRules) -> list[Category]:
    """Fetch `/categories` and upsert the tree; returns the sub-categories (leaves) in page order."""
    url = f"{start_url.rstrip('/')}/categories"
    tree = parse_categories_page(fetch_text(url, robots=robots), url=url)
    return category_tree_store(tree=tree)


def category_tree_store(*, tree: list[dict]) -> list[Category]:
    """Upsert top-level categories and their sub-categories in one transaction; returns the sub-categories."""
    leaves: list[Category] = []
    with transaction.atomic():
        for block in tree:
            top = category_upsert(name=block["name"], slug=block.get("slug") or "", source_id=block.get("slug") or "")
            for child in block["children"]:
                leaves.append(
                    category_upsert(name=child["name"], slug=child["slug"], parent=top, source_id=child["slug"])
                )
    return leaves
