"""CPU time per stage, in the crawl's stats (``news/cpu/<stage>``, seconds): what the
benchmark reports as each stage's share, and what an operator reads in the stats dump."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

Method = TypeVar("Method", bound=Callable[..., Any])


def timed(stage: str) -> Callable[[Method], Method]:
    """Decorate a stage's process_item: its thread CPU time is added to the stats, also
    when it drops the item."""

    def decorate(method: Method) -> Method:
        @functools.wraps(method)
        def process_item(self: Any, item: Any) -> Any:
            started = time.thread_time()
            try:
                return method(self, item)
            finally:
                if self.stats is not None:
                    self.stats.inc_value(f"news/cpu/{stage}", time.thread_time() - started)

        return process_item  # type: ignore[return-value]

    return decorate
