"""Middleware rules from ``REDIS_PATTERNS["RATELIMIT"]["RULES"]``, validated once.

"RULES": [
    {"path": "/admin/login/", "methods": ["POST"], "key": "ip", "rate": "5/m;20/h"},
    {"regex": r"^/api/", "key": "header:x-api-key", "rate": "100/s", "algorithm": "token_bucket",
     "exempt_ips": ["10.0.0.0/8"], "exempt_paths": ["/api/health"]},
]
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from django.utils.module_loading import import_string

from . import algorithms
from .clientip import _address, _trusted, networks, real_ip
from .core import ALL
from .exceptions import RatelimitConfigError
from .keys import key_function
from .rates import parse

FIELDS = {
    "path",
    "regex",
    "methods",
    "key",
    "rate",
    "algorithm",
    "burst",
    "cost",
    "group",
    "block",
    "exempt_paths",
    "exempt_ips",
    "exempt_if",
}


@dataclasses.dataclass(frozen=True)
class Rule:
    group: str
    pattern: re.Pattern[str]
    methods: Any
    key: Any
    rate: Any
    algorithm: str | None
    burst: int | None
    cost: int
    block: bool
    exempt_paths: tuple[str, ...]
    exempt_ips: tuple[Any, ...]
    exempt_if: Any

    def applies(self, request: Any) -> bool:
        path = request.path_info
        if not self.pattern.search(path):
            return False
        if any(path.startswith(p) for p in self.exempt_paths):
            return False
        if self.exempt_ips:
            addr = _address(real_ip(request))
            if addr is not None and _trusted(addr, self.exempt_ips):
                return False
        return not (self.exempt_if is not None and self.exempt_if(request))


def compile_rule(index: int, raw: Any) -> Rule:
    where = f"RULES[{index}]"
    if not isinstance(raw, dict):
        raise RatelimitConfigError(f"{where} must be a dict, got {raw!r}")
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        valid = ", ".join(sorted(FIELDS))
        raise RatelimitConfigError(f"{where} has unknown key(s) {', '.join(unknown)}; valid: {valid}")
    if ("path" in raw) == ("regex" in raw):
        raise RatelimitConfigError(f"{where} needs exactly one of 'path' (a prefix) or 'regex'")
    if "path" in raw:
        if not isinstance(raw["path"], str) or not raw["path"].startswith("/"):
            raise RatelimitConfigError(f"{where}['path'] must be a path prefix starting with '/', got {raw['path']!r}")
        pattern = re.compile("^" + re.escape(raw["path"]))
    else:
        try:
            pattern = re.compile(raw["regex"])
        except (re.error, TypeError) as exc:
            raise RatelimitConfigError(f"{where}['regex'] {raw['regex']!r} is not a valid regex: {exc}")
    if "rate" not in raw:
        raise RatelimitConfigError(f"{where} needs a 'rate' (e.g. '5/m')")
    rate = raw["rate"]
    if isinstance(rate, str) and "/" not in rate and "." in rate:
        rate = import_string(rate)
    if not callable(rate):
        try:
            parse(rate)
        except RatelimitConfigError as exc:
            raise RatelimitConfigError(f"{where}: {exc}")
    key = raw.get("key", "ip")
    key_function(key)
    algorithm = raw.get("algorithm")
    if algorithm is not None:
        algorithms.get(algorithm)
    methods = raw.get("methods", ALL)
    if methods != ALL and methods is not None:
        methods = [methods] if isinstance(methods, str) else list(methods)
        if not all(isinstance(m, str) for m in methods):
            raise RatelimitConfigError(f"{where}['methods'] must be method names, got {raw['methods']!r}")
    cost = raw.get("cost", 1)
    if isinstance(cost, bool) or not isinstance(cost, int) or cost < 1:
        raise RatelimitConfigError(f"{where}['cost'] must be an int >= 1, got {cost!r}")
    exempt_if = raw.get("exempt_if")
    if isinstance(exempt_if, str):
        exempt_if = import_string(exempt_if)
    if exempt_if is not None and not callable(exempt_if):
        raise RatelimitConfigError(f"{where}['exempt_if'] must be a callable (request) -> bool or a dotted path")
    exempt_paths = raw.get("exempt_paths", ())
    if isinstance(exempt_paths, str):
        exempt_paths = (exempt_paths,)
    return Rule(
        group=str(raw.get("group") or f"rule:{raw.get('path') or raw.get('regex')}"),
        pattern=pattern,
        methods=methods,
        key=key,
        rate=rate,
        algorithm=algorithm,
        burst=raw.get("burst"),
        cost=cost,
        block=bool(raw.get("block", True)),
        exempt_paths=tuple(exempt_paths),
        exempt_ips=networks(tuple(raw.get("exempt_ips", ())), f"{where}['exempt_ips']"),
        exempt_if=exempt_if,
    )


def compile_rules(raw: Any) -> tuple[Rule, ...]:
    if not isinstance(raw, list | tuple):
        raise RatelimitConfigError(f"RULES must be a list of dicts, got {raw!r}")
    return tuple(compile_rule(i, r) for i, r in enumerate(raw))
