"""Models the pattern tests use (leaderboard players, fenced rows)."""
