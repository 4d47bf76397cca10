"""The REST doors of the switch that holds every runner: ``pause-all/`` and ``resume-all/``."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from routines import api, pausing

from . import serializers as s
from .views import RoutinesView, actor, doc, optional_body


def _state() -> Response:
    current = pausing.paused_all()
    body: dict[str, object] = {"paused": current is not None, "reason": None, "since": None, "actor": None}
    if current is not None:
        body.update(reason=current.reason, since=current.since, actor=current.actor)
    return Response(s.PauseAllStateSerializer(body).data)


class PauseAllView(RoutinesView):
    @doc(
        summary="Hold every runner: run-due and manage.py run_due claim nothing until resume-all",
        request=s.PauseAllRequestSerializer,
        responses={200: s.PauseAllStateSerializer},
    )
    def post(self, request: Request) -> Response:
        api.pause_all(optional_body(request).get("reason", ""), actor=actor(request))
        return _state()


class ResumeAllView(RoutinesView):
    @doc(summary="Let runners claim again", request=None, responses={200: s.PauseAllStateSerializer})
    def post(self, request: Request) -> Response:
        api.resume_all(actor=actor(request))
        return _state()
