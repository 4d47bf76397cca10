"""Stored conversation threads, so a resumed thread continues the conversation (OpenAI backend).

Chat-completions servers are stateless: every request carries the whole conversation. A thread
is therefore kept here, one row per message, and replayed on each query of the thread.
Imported by ``routines.models`` so that migrations see these models.
"""

from __future__ import annotations

from django.db import models


class Thread(models.Model):
    thread_id = models.CharField(primary_key=True, max_length=64)
    # Which backend owns the thread ("openai"); another backend's ids are not resumed.
    backend = models.CharField(max_length=64)
    model = models.CharField(max_length=200, blank=True, default="")
    system = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        app_label = "routines"

    def __str__(self) -> str:
        return self.thread_id


class ThreadMessage(models.Model):
    id = models.BigAutoField(primary_key=True)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    # Position in the conversation; unique so that two runs appending at once cannot interleave.
    seq = models.PositiveIntegerField()
    role = models.CharField(max_length=32)
    content = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        app_label = "routines"
        constraints = [models.UniqueConstraint(fields=["thread", "seq"], name="routines_threadmessage_seq")]

    def __str__(self) -> str:
        return f"{self.thread_id}#{self.seq} {self.role}"
