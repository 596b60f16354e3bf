"""Models the pattern tests use."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models


class Profile(models.Model):
    """A user's one-to-one profile row (sessions: CachedModelBackend's USER_SELECT_RELATED)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    nickname = models.CharField(max_length=50)
    visits = models.IntegerField(default=0)


class StaffUser(User):
    """A proxy of the user model: its saves send post_save with this class as the sender."""

    class Meta:
        proxy = True
