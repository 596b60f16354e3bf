from __future__ import annotations

from django.db import models

from django_redis_patterns.locks import FencingTokenField


class Account(models.Model):
    balance = models.IntegerField(default=0)
    fence = FencingTokenField()

    class Meta:
        app_label = "locks_app"
