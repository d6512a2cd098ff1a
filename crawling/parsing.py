"""Pure parsers for the review site's pages (see REVIEW_SITE_CONTRACT.md). No Django, no network.

A company page carries the same data twice: the `__NEXT_DATA__` JSON (preferred) and the
`data-service-review-*` markup (the fallback when the JSON is missing, not JSON or incomplete).
"""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import re
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

from parsel import Selector

NEXT_DATA_RE = re.compile(r"<script[^>]*\bid=[\"']__NEXT_DATA__[\"'][^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
TAG_RE = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
ATTR_RE = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
REVIEW_LINK_RE = re.compile(r"/reviews/([^/?#\s]+)")


class PageParseError(ValueError):
    """Neither the JSON nor the markup of a page held what the contract says it should."""


def parse_company_page(html: str, *, url: str = "") -> dict[str, Any]:
    """Turn a company page into {"company", "pagination", "reviews", "next_url", "source"}.

    `next_url` is the next page on the host of `url` (or None on the last page). Raises
    PageParseError when neither source yields a company.
    """
    page = _from_next_data(html)
    if page is None:
        page = _from_markup(html, url=url)
    page["next_url"] = next_page_url(html, url=url)
    if page["next_url"] is None and url:
        pagination = page["pagination"]
        current, total = pagination.get("current_page"), pagination.get("total_pages")
        if isinstance(current, int) and isinstance(total, int) and current < total:
            page["next_url"] = page_url(url, current + 1)
    return page


def _from_next_data(html: str) -> dict[str, Any] | None:
    """The page from `props.pageProps` of `__NEXT_DATA__`, or None when it is missing or broken."""
    match = NEXT_DATA_RE.search(html)
    if not match:
        return None
    try:
        props = json.loads(match.group(1))["props"]["pageProps"]
        unit = props["businessUnit"]
        reviews = props.get("reviews")
        if not isinstance(unit, dict) or not unit.get("displayName") or not isinstance(reviews, list):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    pagination = ((props.get("filters") or {}).get("pagination")) or {}
    return {
        "company": _company_from_unit(unit),
        "pagination": {
            "current_page": pagination.get("currentPage"),
            "total_pages": pagination.get("totalPages"),
            "per_page": pagination.get("perPage"),
            "total_count": pagination.get("totalCount"),
        },
        "reviews": [_review_from_json(review) for review in reviews if isinstance(review, dict)],
        "source": "next_data",
    }


def _company_from_unit(unit: dict[str, Any]) -> dict[str, Any]:
    categories = [c for c in unit.get("categories") or [] if isinstance(c, dict) and c.get("name")]
    breadcrumb = unit.get("breadcrumb") or {}
    return {
        "id": str(unit.get("id") or ""),
        "name": unit.get("displayName") or "",
        "domain": unit.get("identifyingName") or "",
        "website": unit.get("websiteUrl") or "",
        "logo_url": _absolute_logo(unit.get("profileImageUrl") or ""),
        "total_reviews": unit.get("numberOfReviews"),
        "trust_score": unit.get("trustScore"),
        "stars": unit.get("stars"),
        "categories": [c["name"] for c in categories],
        "category_ids": [str(c.get("id") or "") for c in categories],
        "primary_category": next((str(c.get("id")) for c in categories if c.get("isPrimary")), ""),
        "breadcrumb": breadcrumb if isinstance(breadcrumb, dict) else {},
    }


def _absolute_logo(url: str) -> str:
    return f"https:{url}" if url.startswith("//") else url


def _review_from_json(review: dict[str, Any]) -> dict[str, Any]:
    dates = review.get("dates") or {}
    consumer = review.get("consumer") or {}
    verification = (review.get("labels") or {}).get("verification") or {}
    reply = review.get("reply")
    return {
        "id": str(review.get("id") or ""),
        "rating": review.get("rating"),
        "title": review.get("title") or "",
        "text": review.get("text") or "",
        "language": review.get("language") or "",
        "published": dates.get("publishedDate") or "",
        "experienced": dates.get("experiencedDate") or "",
        "author_name": consumer.get("displayName") or "",
        "author_country": consumer.get("countryCode") or "",
        "is_verified": bool(verification.get("isVerified")),
        "reply": (reply.get("message") or "") if isinstance(reply, dict) else "",
    }


def _from_markup(html: str, *, url: str) -> dict[str, Any]:
    """The page from the review cards' `data-service-review-*` attributes."""
    selector = Selector(text=html)
    name = _text(selector.css('[class*="title_displayName"]'))
    domain = review_domain_from_url(url)
    if not name:
        raise PageParseError(f"no __NEXT_DATA__ and no company name in the markup of {url or 'the page'}")
    reviews = []
    for card in selector.css("article[data-service-review-card-paper]"):
        rating = card.css("[data-service-review-rating]::attr(data-service-review-rating)").get()
        title = _text(card.css("h2[data-service-review-title-typography]"))
        text = _text(card.css("p[data-service-review-text-typography]"))
        time = card.css("time[data-service-review-date-time-ago]")
        published = time.attrib.get("datetime") or time.attrib.get("dateTime") or "" if time else ""
        link = card.css('a[href*="/reviews/"]::attr(href)').get() or ""
        found = REVIEW_LINK_RE.search(link)
        review_id = found.group(1) if found else _content_id(domain, rating, title, text, published)
        reviews.append(
            {
                "id": review_id,
                "rating": int(rating) if rating and rating.strip().lstrip("-").isdigit() else rating,
                "title": title,
                # A review whose whole text fits its title shows no text paragraph (real pages do this).
                "text": text or title,
                "language": card.css("[data-review-content]::attr(lang)").get() or "",
                "published": published,
                "experienced": "",
                "author_name": _text(card.css("[data-consumer-name-typography]")),
                "author_country": "",
                "is_verified": False,
                "reply": "",
            }
        )
    current = _int(parse_qs(urlsplit(url).query).get("page", ["1"])[0]) or 1
    return {
        "company": {
            "id": "",
            "name": name,
            "domain": domain,
            "website": "",
            "logo_url": "",
            "total_reviews": None,
            "trust_score": None,
            "stars": None,
            "categories": [],
            "category_ids": [],
            "primary_category": "",
            "breadcrumb": {},
        },
        "pagination": {"current_page": current, "total_pages": None, "per_page": None, "total_count": None},
        "reviews": reviews,
        "source": "markup",
    }


def _text(nodes) -> str:
    """Visible text of the first node, `<br>` as a newline, entities decoded, outer space stripped."""
    if not nodes:
        return ""
    raw = nodes[0].get()
    raw = re.sub(r"<!--.*?-->", "", raw, flags=re.DOTALL)
    raw = re.sub(r"\s+", " ", raw)  # HTML collapses white space, as a browser shows it
    raw = re.sub(r"\s*<br\s*/?>\s*", "\n", raw, flags=re.IGNORECASE)
    raw = re.sub(r"<[^>]+>", "", raw)
    return html_lib.unescape(raw).replace("\xa0", " ").strip()


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _content_id(*parts: Any) -> str:
    """A stable id for a review whose page gives none (hash of what identifies it)."""
    digest = hashlib.sha1("\x1f".join(str(p) for p in parts).encode(), usedforsecurity=False).hexdigest()
    return f"h{digest[:24]}"


def next_page_url(html: str, *, url: str = "") -> str | None:
    """The `pagination-button-next` target on the host of `url`, or None on the last page."""
    for tag in TAG_RE.findall(html):
        attrs = {m[0].lower(): html_lib.unescape(m[1] or m[2] or m[3]) for m in ATTR_RE.findall(tag)}
        if attrs.get("name") != "pagination-button-next":
            continue
        href = attrs.get("href")
        if not href or attrs.get("aria-disabled") == "true":
            return None
        return same_host_url(href, base=url)
    return None


def same_host_url(href: str, *, base: str) -> str:
    """Resolve `href` against `base` and keep it on base's scheme and host (path and query kept)."""
    if not base:
        return href
    target = urlsplit(urljoin(base, href))
    origin = urlsplit(base)
    return urlunsplit((origin.scheme, origin.netloc, target.path, target.query, ""))


def page_url(url: str, page: int) -> str:
    """`url` with `?page=N` set (page 1 has no page parameter)."""
    parts = urlsplit(url)
    query = [q for q in parts.query.split("&") if q and not q.startswith("page=")]
    if page > 1:
        query.append(f"page={page}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(query), ""))


def review_domain_from_url(url: str) -> str:
    """The company's name in a `/review/<domain>` address (empty for other addresses)."""
    path = urlsplit(url).path
    if "/review/" not in path:
        return ""
    return path.split("/review/", 1)[1].strip("/").split("/")[0]


def company_review_url(start_url: str, domain: str) -> str:
    """The first review page of a company on the site at `start_url`."""
    origin = urlsplit(start_url)
    return urlunsplit((origin.scheme, origin.netloc, f"/review/{domain}", "", ""))


def parse_categories_page(html: str, *, url: str = "") -> list[dict[str, Any]]:
    """Top-level categories with their sub-categories from `/categories`: [{name, slug, children}]."""
    selector = Selector(text=html)
    tree: dict[str, dict[str, Any]] = {}
    for link in selector.css('a[href^="/categories/"]'):
        slug = category_slug_from_url(link.attrib.get("href", ""))
        name = _text([link])
        block = link.xpath("ancestor::*[self::section or self::div or self::li][.//h2 or .//h3 or .//h4][1]")
        heading = _text(block.css("h1, h2, h3, h4")) if block else ""
        if not slug or not name or not heading:
            continue
        parent = tree.setdefault(heading, {"name": heading, "slug": "", "children": []})
        if heading_link := block.css("h1 a, h2 a, h3 a, h4 a")[:1]:
            parent["slug"] = parent["slug"] or category_slug_from_url(heading_link[0].attrib.get("href", ""))
        if name == heading or slug == parent["slug"]:
            continue
        if all(child["slug"] != slug for child in parent["children"]):
            parent["children"].append({"name": name, "slug": slug})
    return list(tree.values())


def category_slug_from_url(href: str) -> str:
    """The slug in `/categories/<slug>`."""
    path = urlsplit(href).path
    if not path.startswith("/categories/"):
        return ""
    return path[len("/categories/") :].strip("/").split("/")[0]


def parse_listing_companies(html: str) -> list[dict[str, str]]:
    """Company cards of a rendered sub-category page: [{domain, name}] in page order, without repeats."""
    selector = Selector(text=html)
    found: dict[str, dict[str, str]] = {}
    for link in selector.css('a[href*="/review/"]'):
        domain = review_domain_from_url(link.attrib.get("href", ""))
        if domain and domain not in found:
            name = _text(link.css("p, h2, h3, span")) or _text([link])
            found[domain] = {"domain": domain, "name": name.split("\n")[0].strip()}
    return list(found.values())
