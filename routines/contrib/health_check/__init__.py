"""A django-health-check check that fails while any routine is late.

Add ``"routines.contrib.health_check"`` to INSTALLED_APPS: django-health-check's default view then
includes the check. A view that lists its checks itself names
``"routines.contrib.health_check.checks.LateRoutines"``.
"""
