"""Optional integrations built on :mod:`django_redis_patterns.client.instrument`.

Each module imports its third-party library at import time: install the matching extra
(``prometheus``, ``otel``, ``debug-toolbar``) before using it.
"""
