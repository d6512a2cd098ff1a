"""What the local review site holds: categories, companies, their reviews, and the faults it injects.

Built from the shared data (real company URLs and review texts) when present, else generated.
`served_reviews()` says exactly which reviews a complete, correct crawl must store.
"""

from __future__ import annotations

import csv
import gzip
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
LANGUAGES = ("en", "en", "en", "de", "fr", "es", "no")
LABEL_STARS = {"bad": (1, 2), "average": (3,), "good": (4, 5)}


@dataclass
class Review:
    id: str
    rating: object  # an int 1-5, or something invalid when a fault says so
    title: str
    text: str
    language: str
    published: str
    author: str
    country: str


@dataclass
class Company:
    domain: str
    name: str
    id: str
    subcategories: list[str]
    pages: list[list[Review]]

    @property
    def website(self) -> str:
        return f"http://{self.domain}"


@dataclass
class Site:
    """The whole site plus its faults, keyed as described in `build_site`."""

    categories: dict[str, list[tuple[str, str]]]  # top name -> [(sub slug, sub name)]
    companies: dict[str, Company]
    listing_page_size: int = 3
    faults: dict[str, object] = field(default_factory=dict)
    latency: float = 0.0

    def subcategory_companies(self, slug: str) -> list[Company]:
        return [c for c in self.companies.values() if slug in c.subcategories]

    def listed_companies(self) -> list[Company]:
        """Companies a listing page shows (not counting sub-categories that never render)."""
        hidden = set(self.faults.get("never_renders", ()))
        return [c for c in self.companies.values() if any(s not in hidden for s in c.subcategories)]

    def served_reviews(self, companies: list[Company] | None = None) -> dict[str, dict]:
        """Every valid review a correct crawl stores: {id: {company, rating, title, text, language, published}}."""
        blocked = set(self.faults.get("robots_disallowed", ())) | set(self.faults.get("not_found", ()))
        blocked |= set(self.faults.get("redirect_loop", ())) | set(self.faults.get("huge", ()))
        blocked |= set(self.faults.get("always_500", ()))
        truncated = dict(self.faults.get("truncated", {}))
        served: dict[str, dict] = {}
        for company in companies if companies is not None else self.listed_companies():
            if company.domain in blocked:
                continue
            for number, page in enumerate(company.pages, start=1):
                keep = truncated.get((company.domain, number), len(page))
                for review in page[:keep]:
                    if review.id in served or not _valid(review):
                        continue
                    served[review.id] = {
                        "company": company.domain,
                        "rating": review.rating,
                        "title": review.title,
                        "text": review.text,
                        "language": review.language,
                        "published": review.published,
                    }
                if keep < len(page):
                    break  # the truncated page lost its pagination link too
        return served


def _valid(review: Review) -> bool:
    rating = review.rating
    return isinstance(rating, int) and not isinstance(rating, bool) and 1 <= rating <= 5 and bool(review.text)


def _clean(text: str) -> str:
    """One space between words, no blank lines: what the markup shows survives a round trip."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def _shared_inputs(n_subs: int, per_sub: int) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(top, sub, domain) rows and (text, label) rows from the shared data, or empty lists."""
    urls_file, reviews_file = (
        SHARED_DATA / "trustpilot_company_urls.csv.gz",
        SHARED_DATA / "trustpilot_reviews_sample.csv",
    )
    if not urls_file.exists() or not reviews_file.exists():
        return [], []
    by_sub: dict[tuple[str, str], list[str]] = {}
    with gzip.open(urls_file, "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            by_sub.setdefault((row["category"], row["sub_category"]), []).append(
                row["company_url"].rstrip("/").rsplit("/", 1)[-1]
            )
    full = [key for key, domains in by_sub.items() if len(domains) >= per_sub]
    chosen: list[tuple[str, str]] = []
    for limit in (2, n_subs):  # at most two sub-categories per top-level one, so the tree has branches
        for key in full:
            if len(chosen) < n_subs and key not in chosen and sum(top == key[0] for top, _ in chosen) < limit:
                chosen.append(key)
    rows = [(top, sub, domain) for top, sub in chosen for domain in by_sub[(top, sub)][:per_sub]]
    with open(reviews_file, encoding="utf-8") as handle:
        texts = [(r["text"], r["label"]) for r in csv.DictReader(handle) if r["text"].strip()]
    return rows, texts


def build_site(
    *,
    subcategories: int = 4,
    companies_per_sub: int = 3,
    pages: int = 2,
    reviews_per_page: int = 5,
    seed: int = 7,
    use_shared_data: bool = True,
) -> Site:
    """A deterministic site; the last sub-category's first company is also listed in the first one."""
    rng = random.Random(seed)
    rows, texts = _shared_inputs(subcategories, companies_per_sub) if use_shared_data else ([], [])
    if not rows:
        rows = [
            (f"Top {s // 2 + 1}", f"Sub category {s + 1}", f"www.company-{s}-{c}.example")
            for s in range(subcategories)
            for c in range(companies_per_sub)
        ]
    if not texts:
        words = [
            "good",
            "bad",
            "service",
            "delivery",
            "price",
            "quality",
            "fast",
            "slow",
            "staff",
            "helpful",
            "order",
            "refund",
        ]
        texts = [(" ".join(rng.choice(words) for _ in range(12)), rng.choice(list(LABEL_STARS))) for _ in range(500)]
    categories: dict[str, list[tuple[str, str]]] = {}
    companies: dict[str, Company] = {}
    start = datetime(2024, 1, 1, tzinfo=UTC)
    serial = 0
    for top, sub, domain in rows:
        slug = "_".join("".join(ch if ch.isalnum() else " " for ch in sub.lower()).split())
        if (slug, sub) not in categories.setdefault(top, []):
            categories[top].append((slug, sub))
        if domain in companies:
            companies[domain].subcategories.append(slug)
            continue
        review_pages = []
        for _ in range(pages):
            page = []
            for _ in range(reviews_per_page):
                serial += 1
                text, label = texts[rng.randrange(len(texts))]
                text = _clean(text)[:1500].strip() or "Fine."
                published = start + timedelta(minutes=37 * serial)
                page.append(
                    Review(
                        id=f"{serial:08x}{rng.getrandbits(64):016x}",
                        rating=rng.choice(LABEL_STARS.get(label, (3,))),
                        title=_clean(text.split(".")[0])[:60].strip() or "Review",
                        text=text,
                        language=rng.choice(LANGUAGES),
                        published=published.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        author=f"Reviewer {serial}",
                        country=rng.choice(("GB", "US", "DE", "NO")),
                    )
                )
            review_pages.append(page)
        name = domain.removeprefix("www.").split(".")[0].replace("-", " ").title()
        companies[domain] = Company(
            domain=domain, name=name, id=f"{len(companies):024x}", subcategories=[slug], pages=review_pages
        )
    subs = [slug for entries in categories.values() for slug, _ in entries]
    first = next(c for c in companies.values() if c.subcategories[0] == subs[-1])
    if subs[0] not in first.subcategories:
        first.subcategories.append(subs[0])
    return Site(categories=categories, companies=companies)


def add_faults(site: Site) -> Site:
    """Inject every fault of the contract's table into `site` (needs at least 4 companies with 2 pages)."""
    domains = list(site.companies)
    subs = [slug for entries in site.categories.values() for slug, _ in entries]
    # Extra companies that exist only to fail; their reviews are never expected.
    for kind in ("not_found", "redirect_loop", "huge", "always_500", "robots_disallowed"):
        domain = f"{kind.replace('_', '-')}.example"
        site.companies[domain] = Company(
            domain=domain,
            name=kind.title(),
            id=f"f{len(site.companies):023x}",
            subcategories=[subs[0]],
            pages=[[Review(f"{kind}-r1", 5, "Title", "Never stored.", "en", "2024-01-01T00:00:00.000Z", "A", "GB")]],
        )
        site.faults[kind] = [domain]
    site.categories[next(iter(site.categories))] += [("empty_shelf", "Empty Shelf"), ("never_renders", "Never Renders")]
    site.faults["never_renders"] = ["never_renders"]
    a, b, c, d = domains[:4]
    pages_a, pages_b = site.companies[a].pages, site.companies[b].pages
    pages_a[0][0].rating = 0
    pages_a[0][1].rating = 6
    pages_a[1][0].text = pages_a[1][0].title = ""  # (a card with a title shows the title as its text)
    pages_b[1][1] = Review(pages_b[0][2].id, 1, "Copy", "A duplicate id with other words.", "en",
                           "2024-05-05T00:00:00.000Z", "Dup", "GB")  # fmt: skip
    site.faults["retry_after_429"] = {(b, 1): 1}  # (domain, page) -> how many 429s before it answers
    site.faults["unavailable_503"] = {(c, 2): 1}
    site.faults["error_500_once"] = {(d, 1): 1}
    site.faults["timeout_once"] = {(c, 1): 1}
    site.faults["missing_json"] = [(a, 2)]
    site.faults["broken_json"] = [(d, 2)]
    site.faults["truncated"] = {(b, 2): 2}  # keep the first 2 review cards of that page
    site.faults["absolute_next"] = [d]  # next links point at www.trustpilot.com, the crawler stays here
    return site
