"""Redis locks (django_redis_patterns.locks)."""
