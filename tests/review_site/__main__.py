"""Serve the local review site: `python -m tests.review_site [--faults] [--companies N] ...`."""

from __future__ import annotations

import argparse
import sys
import time

from tests.review_site.content import add_faults, build_site
from tests.review_site.server import ReviewSite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subcategories", type=int, default=4)
    parser.add_argument("--companies-per-sub", type=int, default=3)
    parser.add_argument("--pages", type=int, default=2)
    parser.add_argument("--reviews-per-page", type=int, default=5)
    parser.add_argument("--listing-page-size", type=int, default=3)
    parser.add_argument("--faults", action="store_true")
    args = parser.parse_args()
    site = build_site(
        subcategories=args.subcategories,
        companies_per_sub=args.companies_per_sub,
        pages=args.pages,
        reviews_per_page=args.reviews_per_page,
    )
    site.listing_page_size = args.listing_page_size
    if args.faults:
        add_faults(site)
    with ReviewSite(site) as served:
        print(served.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            sys.exit(0)


if __name__ == "__main__":
    main()
