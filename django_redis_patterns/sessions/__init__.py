"""Redis sessions (django_redis_patterns.sessions)."""
