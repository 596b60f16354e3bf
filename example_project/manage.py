#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arcade.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:  # loads the settings: "no Redis found" (arcade/private_redis.py) is said without a traceback
        settings.INSTALLED_APPS  # noqa: B018
    except ImproperlyConfigured as exc:
        if os.environ.get("DJANGO_SETTINGS_MODULE"):
            sys.exit(f"manage.py: {exc}")
    execute_from_command_line(sys.argv)
