"""Redis rate limiting (django_redis_patterns.ratelimit)."""
