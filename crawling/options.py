"""The options of a crawl and their bounds: the one table the service checks and every entry point derives from.

`crawl_params_clean` (crawling.services) validates against it; the admin form, the staff API's serializer
and `manage.py crawl` build their fields and flags from it, so they accept the same values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

DEFAULT_START_URL = "https://www.trustpilot.com"


@dataclass(frozen=True)
class NumberOption:
    """A numeric crawl option: its type, bounds, default and the help every entry point shows."""

    name: str
    type: type[int] | type[float]
    minimum: int | float
    maximum: int | float
    help: str
    metavar: str = "N"
    # Called when the option is left out; without one it stays None (the run then uses the setting in force).
    default: Callable[[], int | float] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class ListOption:
    """A crawl option that is a list of words (slugs, domains), with at most `max_items` of them."""

    name: str
    max_items: int
    help: str


NUMBER_OPTIONS: tuple[NumberOption, ...] = (
    NumberOption("max_companies", int, 1, 100_000, "Stop after this many companies."),
    NumberOption("max_pages", int, 1, 10_000, "At most this many review pages per company."),
    NumberOption(
        "concurrency",
        int,
        1,
        64,
        "Parallel requests (default CRAWL_CONCURRENCY).",
        default=lambda: settings.CRAWL_CONCURRENCY,
    ),
    NumberOption(
        "render_timeout",
        float,
        1,
        300,
        "Seconds a listing page may take to render (default CRAWL_RENDER_TIMEOUT).",
        metavar="S",
    ),
)

LIST_OPTIONS: tuple[ListOption, ...] = (
    ListOption("categories", 500, "Only these sub-category slugs (default: every category)."),
    ListOption("companies", 5000, "Only these company domains, e.g. www.example.com (skips category discovery)."),
)

START_URL_HELP = f"The review site's address (default {DEFAULT_START_URL})."
NO_BROWSER_HELP = "Skip discovery in the browser: crawl the companies already known."

NUMBERS: dict[str, NumberOption] = {option.name: option for option in NUMBER_OPTIONS}
LISTS: dict[str, ListOption] = {option.name: option for option in LIST_OPTIONS}
