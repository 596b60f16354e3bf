"""A pickle that runs code when it is loaded, for tests that plant it in Redis.

Loading it calls ``os.mkdir(marker)``: whether the marker exists afterwards says whether
anything unpickled it (nothing else creates that directory).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path


class _Gadget:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (self.marker,)


def code_executing_pickle(marker: Path) -> bytes:
    return pickle.dumps(_Gadget(str(marker)))
