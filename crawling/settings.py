"""Scrapy settings for a crawl, derived from Django settings (CRAWL_*) and the run's options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings


def scrapy_settings(
    *,
    concurrency: int,
    run_id: int | None = None,
    companies_total: int = 0,
    companies_done: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Polite defaults from the contract: robots.txt, AutoThrottle, bounded retries, timeouts, size limits."""
    return {
        "BOT_NAME": "starling",
        "USER_AGENT": settings.CRAWL_USER_AGENT,
        "ROBOTSTXT_OBEY": settings.CRAWL_OBEY_ROBOTS,
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": settings.CRAWL_DOWNLOAD_DELAY,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": max(settings.CRAWL_DOWNLOAD_DELAY, 0.1),
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(concurrency),
        "DOWNLOAD_TIMEOUT": settings.CRAWL_DOWNLOAD_TIMEOUT,
        "DOWNLOAD_MAXSIZE": settings.CRAWL_DOWNLOAD_MAXSIZE,
        "DOWNLOAD_WARNSIZE": settings.CRAWL_DOWNLOAD_MAXSIZE // 2,
        "REDIRECT_MAX_TIMES": 5,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": settings.CRAWL_MAX_RETRIES,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
        "RETRY_AFTER_MAX": settings.CRAWL_MAX_RETRY_AFTER,
        "RETRY_BACKOFF_BASE": 0.5,
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawling.middlewares.BackoffRetryMiddleware": 550,
        },
        "ITEM_PIPELINES": {"crawling.pipelines.StorePipeline": 300},
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_INSTALL_ROOT_HANDLER": False,
        "LOG_LEVEL": "WARNING",
        "STARLING_RUN_ID": run_id,
        "STARLING_BATCH_SIZE": settings.CRAWL_BATCH_SIZE,
        "STARLING_COMPANIES_TOTAL": companies_total,
        "STARLING_COMPANIES_DONE": companies_done,
        "STARLING_PROGRESS": progress,
    }
