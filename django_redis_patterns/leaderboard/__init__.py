"""Redis leaderboards (django_redis_patterns.leaderboard)."""
