"""Parsers of the benchmark tools' own output: plain functions, unit-tested on real output.

Every parser returns a list of measurements ``{benchmark, metric, value, unit,
higher_is_better}`` plus, where the tool reports them, the sizes it actually used, and
raises :class:`ParseError` naming what is missing when the output is not what the tool
prints on success.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import ParseError
from .compress import parse_compress
from .fio import parse_fio
from .hpcc import parse_hpcc
from .netlat import parse_netlat
from .nuttcp import parse_nuttcp
from .redis import parse_redis
from .sysbench import parse_sysbench

PARSERS: dict[str, Callable[..., dict[str, Any]]] = {
    "hpcc": parse_hpcc,
    "redis": parse_redis,
    "sysbench": parse_sysbench,
    "compress": parse_compress,
    "nuttcp": parse_nuttcp,
    "netlat": parse_netlat,
    "fio": parse_fio,
}


def parse(tool: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        parser = PARSERS[tool]
    except KeyError:
        raise ParseError(f"no parser for tool {tool!r}; known: {', '.join(PARSERS)}") from None
    return parser(*args, **kwargs)


__all__ = ["PARSERS", "ParseError", "parse"]
