"""Keep the test process's own garbage collector out of latency measurements.

    from tests.gcpause import no_full_collections
    with no_full_collections():
        ...timed calls...

After a few hundred tests the process holds millions of objects, and a full (generation 2)
collection can stop it for 100-300 ms at any allocation: a "fails at once" bound of tens of
milliseconds then measures the collector, not the code under test. ``gc.freeze()`` moves
everything alive now into the permanent generation, so collections during the block only
scan what the block allocates (what a server that freezes after start-up sees too).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_full_collections() -> Iterator[None]:
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
