"""Signals of the leaderboard app."""

from __future__ import annotations

from django.dispatch import Signal

#: Sent after a read found a model's board missing from Redis and rebuilt it from the table.
#: ``sender``: the model; keyword arguments: ``board`` (its ModelLeaderboard), ``members``
#: (on the rebuilt board), ``seconds`` (the rebuild's duration).
board_healed = Signal()
