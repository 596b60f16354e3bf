"""Signals of the leaderboard app."""

from __future__ import annotations

from django.dispatch import Signal

#: Sent after a read found a model's board missing from Redis and rebuilt it from the table.
#: ``sender``: the model; keyword arguments: ``board`` (its ModelLeaderboard), ``members``
#: (on the rebuilt board), ``seconds`` (the rebuild's duration), ``period`` (None for the
#: all-time board, else the rebuilt period board: a ``rebuild.Period`` with ``kind`` and ``first``).
board_healed = Signal()
