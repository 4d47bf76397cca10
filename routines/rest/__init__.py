"""The REST API: the only package that imports Django REST Framework."""
