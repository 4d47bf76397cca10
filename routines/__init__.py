"""Durable scheduled jobs for Django, kept as rows in the project's own database."""

__version__ = "0.1.0"
