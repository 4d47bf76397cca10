"""The REST API (SPEC §7): the only package that imports Django REST Framework."""
