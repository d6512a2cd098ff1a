"""The job queues: one registry that settings, the worker, the stack and the reaper all read.

Plain data (no Django imports), so settings can build RQ_QUEUES from it.
"""

from __future__ import annotations

# Where Redis is when REDIS_URL is unset: the embedded one `make run` starts, or a local server.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

# Queue name → default job timeout in seconds. Workers listen on all of them, in this order.
QUEUES: dict[str, int] = {
    "default": 600,
    "crawl": 6 * 3600,
    "training": 6 * 3600,
}


def rq_queues_setting(url: str) -> dict[str, dict]:
    """RQ_QUEUES for django-rq: every registered queue on the Redis at `url`."""
    return {name: {"URL": url, "DEFAULT_TIMEOUT": timeout} for name, timeout in QUEUES.items()}
