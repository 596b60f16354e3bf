"""Run Django's ``SessionTestsMixin`` (from the installed Django's sdist) against our SessionStore.

    DRP_SESSIONS_LOCATION=redis://... python -m tests.sessions.django_suite

Run in a subprocess by ``test_django_suite.py``: Django's test module imports its own
test app's models, which needs its own settings. Prints a JSON summary as the last line.
"""

from __future__ import annotations

import json
import os
import sys
import unittest


def main() -> int:
    from tests.django_sdist import django_tests_dir

    sys.path.insert(0, str(django_tests_dir()))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.sessions.django_suite_settings"
    import django

    django.setup()
    from django.test import SimpleTestCase
    from sessions_tests.tests import SessionTestsMixin

    from django_redis_patterns.sessions.backend import SessionStore

    class RedisPatternsSessionTests(SessionTestsMixin, SimpleTestCase):  # type: ignore[misc]
        backend = SessionStore

    suite = unittest.defaultTestLoader.loadTestsFromTestCase(RedisPatternsSessionTests)
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=1).run(suite)
    print(
        json.dumps(
            {
                "run": result.testsRun,
                "failures": len(result.failures),
                "errors": len(result.errors),
                "skipped": len(result.skipped),
                "expected_failures": len(result.expectedFailures),
            }
        )
    )
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
