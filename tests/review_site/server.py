"""A local review site that follows REVIEW_SITE_CONTRACT.md, served on 127.0.0.1 from a thread.

with ReviewSite(build_site()) as site:
    site.url  # http://127.0.0.1:PORT
"""

from __future__ import annotations

import contextlib
import html
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.review_site.content import Company, Review, Site

LISTING_SCRIPT = """
(function () {
  var slug = %(slug)s, page = %(page)d;
  fetch("/api/categories/" + slug + "?page=" + page).then(function (r) { return r.json(); }).then(function (data) {
    setTimeout(function () {
      var list = document.getElementById("business-list");
      data.companies.forEach(function (c) {
        var a = document.createElement("a");
        a.href = "/review/" + c.domain;
        a.className = "business-card";
        a.innerHTML = "<p class='business-name'></p>";
        a.firstChild.textContent = c.name;
        list.appendChild(a);
      });
      var next = document.createElement("a");
      next.setAttribute("name", "pagination-button-next");
      next.textContent = "Next page";
      if (page < data.totalPages) { next.href = "/categories/" + slug + "?page=" + (page + 1); }
      else { next.setAttribute("aria-disabled", "true"); }
      document.getElementById("pagination").appendChild(next);
    }, 50);
  });
})();
"""


class ReviewSite:
    """Serves a `Site` until closed; counts every request by path (and query)."""

    def __init__(self, site: Site, *, port: int = 0) -> None:
        """`port` 0 takes any free port; `url` says which."""
        self.site = site
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"review_site": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ReviewSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def count(self, key: str) -> int:
        """How many requests this key (`path?query`) got so far, counting this one."""
        with self._lock:
            self.requests[key] += 1
            return self.requests[key]


class _Handler(BaseHTTPRequestHandler):
    review_site: ReviewSite
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        page = int(query.get("page", ["1"])[0] or 1)
        site = self.review_site.site
        if site.latency:
            time.sleep(site.latency)
        attempt = self.review_site.count(f"{path}?page={page}")
        if path == "/robots.txt":
            blocked = "".join(f"Disallow: /review/{d}\n" for d in site.faults.get("robots_disallowed", ()))
            return self._send(200, "User-agent: *\n" + blocked, "text/plain")
        if path == "/categories":
            return self._send(200, render_categories(site))
        if path.startswith("/categories/"):
            return self._send(200, render_listing(path.split("/")[2], page))
        if path.startswith("/api/categories/"):
            return self._listing_json(path.split("/")[3], page)
        if path.startswith("/review/"):
            return self._company(path.split("/")[2], page, attempt)
        return self._send(404, "<h1>Not found</h1>")

    def _listing_json(self, slug: str, page: int) -> None:
        site = self.review_site.site
        if slug in site.faults.get("never_renders", ()):
            time.sleep(60)  # the script never gets its data, so the cards never appear
            return None
        companies = site.subcategory_companies(slug)
        size = site.listing_page_size
        total = max(1, -(-len(companies) // size))
        chunk = companies[(page - 1) * size : page * size]
        body = {"companies": [{"domain": c.domain, "name": c.name} for c in chunk], "totalPages": total}
        return self._send(200, json.dumps(body), "application/json")

    def _company(self, domain: str, page: int, attempt: int) -> None:
        site, faults = self.review_site.site, self.review_site.site.faults
        company = site.companies.get(domain)
        if company is None or domain in faults.get("not_found", ()) or not 1 <= page <= len(company.pages):
            return self._send(404, "<h1>No such company</h1>")
        key = (domain, page)
        if attempt <= faults.get("retry_after_429", {}).get(key, 0):
            return self._send(429, "Too many requests", "text/plain", {"Retry-After": "1"})
        if attempt <= faults.get("unavailable_503", {}).get(key, 0):
            return self._send(503, "Unavailable", "text/plain")
        if attempt <= faults.get("error_500_once", {}).get(key, 0) or domain in faults.get("always_500", ()):
            return self._send(500, "Server error", "text/plain")
        if attempt <= faults.get("timeout_once", {}).get(key, 0):
            time.sleep(4)
        if domain in faults.get("redirect_loop", ()):
            return self._send(302, "", "text/plain", {"Location": f"/review/{domain}?page={page}"})
        body = render_company_page(company, page, faults)
        if domain in faults.get("huge", ()):
            body = body.replace("</body>", "<!--" + "x" * (2 * 1024 * 1024) + "--></body>")
        if key in faults.get("truncated", {}):
            keep = faults["truncated"][key]
            cut, start = 0, 0
            for _ in range(keep):
                cut = body.index("</article>", start) + len("</article>")
                start = cut
            body = body[:cut]
        return self._send(200, body)

    def _send(self, status: int, body: str, content_type: str = "text/html", headers: dict | None = None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)


def render_categories(site: Site) -> str:
    blocks = []
    for top, subs in site.categories.items():
        links = "".join(f'<li><a href="/categories/{slug}">{html.escape(name)}</a></li>' for slug, name in subs)
        blocks.append(f"<section class='category-block'><h2>{html.escape(top)}</h2><ul>{links}</ul></section>")
    return f"<!doctype html><html><head><title>Categories</title></head><body>{''.join(blocks)}</body></html>"


def render_listing(slug: str, page: int) -> str:
    """The server's HTML for a sub-category: no company links; the script renders them."""
    script = LISTING_SCRIPT % {"slug": json.dumps(slug), "page": page}
    return (
        "<!doctype html><html><head><title>Companies</title></head><body>"
        "<main><div id='business-list'></div><nav id='pagination'></nav></main>"
        f"<script>{script}</script></body></html>"
    )


def _review_json(review: Review) -> dict:
    return {
        "id": review.id,
        "rating": review.rating,
        "title": review.title,
        "text": review.text,
        "language": review.language,
        "dates": {"publishedDate": review.published, "experiencedDate": review.published[:10] + "T00:00:00.000Z"},
        "consumer": {"displayName": review.author, "countryCode": review.country},
        "labels": {"verification": {"isVerified": False}},
        "reply": None,
    }


def _review_card(review: Review) -> str:
    text = "<br/>".join(html.escape(line) for line in review.text.split("\n"))
    return (
        '<article class="card" data-service-review-card-paper="true">'
        f'<aside><span data-consumer-name-typography="true">{html.escape(review.author)}</span></aside>'
        f'<div data-service-review-rating="{html.escape(str(review.rating))}">'
        f'<time datetime="{review.published}" data-service-review-date-time-ago="true">a while ago</time></div>'
        f'<div data-review-content="true" lang="{review.language}">'
        f'<a href="/reviews/{review.id}"><h2 data-service-review-title-typography="true">'
        f"{html.escape(review.title)}</h2></a>"
        f'<p data-service-review-text-typography="true">{text}</p></div></article>'
    )


def render_company_page(company: Company, page: int, faults: dict) -> str:
    """A company's review page with both `__NEXT_DATA__` and the review-card markup."""
    reviews = company.pages[page - 1]
    total_pages = len(company.pages)
    props = {
        "props": {
            "pageProps": {
                "businessUnit": {
                    "id": company.id,
                    "displayName": company.name,
                    "identifyingName": company.domain,
                    "websiteUrl": company.website,
                    "profileImageUrl": f"//images.example/{company.id}.png",
                    "numberOfReviews": sum(len(p) for p in company.pages),
                    "trustScore": 4.1,
                    "stars": 4,
                    "categories": [],
                },
                "reviews": [_review_json(r) for r in reviews],
                "filters": {
                    "pagination": {
                        "currentPage": page,
                        "perPage": len(reviews),
                        "totalCount": sum(len(p) for p in company.pages),
                        "totalPages": total_pages,
                    }
                },
            }
        }
    }
    next_data = json.dumps(props).replace("</", "<\\/")
    if (company.domain, page) in faults.get("broken_json", ()):
        next_data = next_data[: len(next_data) // 2]
    if page < total_pages:
        if company.domain in faults.get("absolute_next", ()):
            href = f"https://www.trustpilot.com/review/{company.domain}?languages=all&amp;page={page + 1}"
        else:
            href = f"/review/{company.domain}?page={page + 1}"
        next_link = f'<a href="{href}" name="pagination-button-next" rel="next">Next page</a>'
    else:
        next_link = '<a name="pagination-button-next" aria-disabled="true">Next page</a>'
    script = ""
    if (company.domain, page) not in faults.get("missing_json", ()):
        script = f'<script id="__NEXT_DATA__" type="application/json">{next_data}</script>'
    cards = "".join(_review_card(r) for r in reviews)
    return (
        f"<!doctype html><html><head><title>{html.escape(company.name)} reviews</title></head><body>"
        f'<h1><span class="title_displayName__x1">{html.escape(company.name)}</span></h1>'
        f"<section>{cards}</section><nav>{next_link}</nav>{script}</body></html>"
    )
