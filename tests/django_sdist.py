"""Django's own test suite, from the sdist of the installed Django version.

    from tests.django_sdist import django_tests_dir
    tests = django_tests_dir()          # .../.sdist/django-5.2.19-tests/tests

Fetched once by :func:`tests.sdist.sdist_tree` (only the sdist's ``tests/`` directory is
extracted); nothing of Django's test code is copied into this repository.
"""

from __future__ import annotations

from pathlib import Path

import django

from tests.sdist import sdist_tree


def django_tests_dir(version: str | None = None) -> Path:
    """Path of ``tests/`` of Django's sdist for ``version`` (default: the installed one)."""
    return sdist_tree("django", "tests", version=version or django.__version__) / "tests"
