"""Serve the local review site on 127.0.0.1 until Ctrl+C: `python -m tests.review_site [--port N] [--faults]`.

It prints its address; crawl it with `.venv/bin/python manage.py crawl --start-url <address>`. The
options below choose its size (`--help` lists them).
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.review_site.content import add_faults, build_site
from tests.review_site.server import ReviewSite


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.review_site", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0, help="Port on 127.0.0.1 (default: any free port).")
    parser.add_argument("--subcategories", type=int, default=4, help="Sub-categories (default 4).")
    parser.add_argument("--companies-per-sub", type=int, default=3, help="Companies in each (default 3).")
    parser.add_argument("--pages", type=int, default=2, help="Review pages per company (default 2).")
    parser.add_argument("--reviews-per-page", type=int, default=5, help="Reviews per page (default 5).")
    parser.add_argument("--listing-page-size", type=int, default=3, help="Companies per listing page (default 3).")
    parser.add_argument("--faults", action="store_true", help="Add the faults the crawl tests survive.")
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be from 0 to 65535 (got {args.port}).")
    site = build_site(
        subcategories=args.subcategories,
        companies_per_sub=args.companies_per_sub,
        pages=args.pages,
        reviews_per_page=args.reviews_per_page,
    )
    site.listing_page_size = args.listing_page_size
    if args.faults:
        add_faults(site)
    try:
        served = ReviewSite(site, port=args.port)
    except OSError as exc:
        parser.exit(1, f"Cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); choose another --port.\n")
    with served:
        print(served.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            sys.exit(0)


if __name__ == "__main__":
    main()
