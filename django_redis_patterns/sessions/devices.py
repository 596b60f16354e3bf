"""A session's User-Agent as a person names their device: "Firefox on Ubuntu", "Safari on iPhone".

Parsing uses ``ua-parser`` (the uap-core rules every major analytics tool shares). It is
imported on first use, so a project that never shows a device pays nothing; if it is not
installed, the label falls back to the shortened User-Agent string.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

#: Browser families as people say them: the parser tells mobile builds apart, people do not.
_BROWSER_NAMES = {
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Android WebView",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
}
_OS_NAMES = {"Mac OS X": "macOS", "Mac OS": "macOS"}
#: Handhelds named by model ("Safari on iPhone", "Chrome on Pixel 8") rather than by system.
_MODEL_OS = {"iOS", "iPadOS", "Android"}
#: Device families that say nothing a person would recognise.
_VAGUE_DEVICES = {"Other", "K", "Generic Smartphone", "Generic Tablet", "Generic Feature Phone", "Spider", "Mac"}
#: Longest raw User-Agent shown when it cannot be parsed.
RAW_LIMIT = 60


@dataclasses.dataclass(frozen=True)
class Device:
    """What a User-Agent says, ready for a template."""

    #: "Firefox on Ubuntu", "Safari on iPhone", "curl", or the shortened raw string.
    label: str
    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    #: Phone or tablet model when the User-Agent names one ("iPhone", "Pixel 8").
    model: str = ""
    #: "phone", "tablet", "computer" or "" (unknown): for an icon or a CSS class.
    kind: str = ""
    #: The User-Agent string as the browser sent it.
    user_agent: str = ""

    @property
    def detail(self) -> str:
        """ "Firefox 128 · Ubuntu", for a second line under the label."""
        parts = [f"{self.browser} {self.browser_version}".strip(), f"{self.os} {self.os_version}".strip()]
        return " · ".join(p for p in parts if p)


def _shorten(text: str) -> str:
    return text if len(text) <= RAW_LIMIT else text[: RAW_LIMIT - 1] + "…"


def _parser() -> Any:
    try:
        from ua_parser import parse
    except ImportError:  # optional at run time: labels fall back to the raw string
        return None
    return parse


@functools.lru_cache(maxsize=1024)
def describe(user_agent: str) -> Device:
    """The :class:`Device` a User-Agent string names (cached: a user has few, and they repeat)."""
    user_agent = (user_agent or "").strip()
    parse = _parser()
    if not user_agent or parse is None:
        return Device(label=_shorten(user_agent), user_agent=user_agent)
    result = parse(user_agent)
    ua, os_, device = result.user_agent, result.os, result.device
    browser = _BROWSER_NAMES.get(ua.family, ua.family) if ua and ua.family != "Other" else ""
    system = _OS_NAMES.get(os_.family, os_.family) if os_ and os_.family != "Other" else ""
    model = device.family if device and device.family not in _VAGUE_DEVICES else ""
    platform = model if model and system in _MODEL_OS else system
    label = f"{browser} on {platform}" if browser and platform else browser or platform or _shorten(user_agent)
    return Device(
        label=label,
        browser=browser,
        browser_version=(ua.major or "") if ua and browser else "",
        os=system,
        os_version=(os_.major or "") if os_ and system else "",
        model=model,
        kind=_kind(system, model, user_agent),
        user_agent=user_agent,
    )


def _kind(system: str, model: str, user_agent: str) -> str:
    if model.startswith("iPad") or (system == "Android" and "Mobile" not in user_agent):
        return "tablet"
    if system in _MODEL_OS:
        return "phone"
    if system:
        return "computer"
    return ""
