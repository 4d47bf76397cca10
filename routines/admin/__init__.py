"""Django admin for routines: job pages with actions over ``routines.api``, read-only history."""

from .history import EventAdmin, RunAdmin
from .jobs import JobAdmin
from .threads import ThreadAdmin

__all__ = ["EventAdmin", "JobAdmin", "RunAdmin", "ThreadAdmin"]
