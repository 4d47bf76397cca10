"""routines.admin.threads: the OpenAI backend's stored conversations, readable and deletable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from routines.models import Thread, ThreadMessage
from tests.support.jobs import T0

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/routines/thread/"


@pytest.fixture
def thread() -> Thread:
    thread = Thread.objects.create(
        thread_id="thr-support", backend="openai", model="gpt-test", system="Be brief.", created_at=T0, updated_at=T0
    )
    for seq, (role, content) in enumerate([("user", "Summarise the queue"), ("assistant", "3 open tickets <b>")]):
        ThreadMessage.objects.create(thread=thread, seq=seq, role=role, content=content, created_at=T0)
    return thread


def row(html: str, thread_id: str) -> str:
    return next(r for r in html.split("<tr")[1:] if f">{thread_id}</a>" in r)


def test_changelist_lists_threads_with_their_message_count(admin_client_: Client, thread: Thread) -> None:
    Thread.objects.create(thread_id="thr-empty", backend="openai", created_at=T0, updated_at=T0 + timedelta(hours=1))
    response = admin_client_.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("thr-empty") < html.index("thr-support")  # most recently updated first
    assert '<td class="field-message_count">2</td>' in row(html, "thr-support")
    assert '<td class="field-message_count">0</td>' in row(html, "thr-empty")


def test_change_page_shows_the_conversation_read_only(admin_client_: Client, thread: Thread) -> None:
    response = admin_client_.get(f"{CHANGELIST}{thread.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Summarise the queue" in html
    assert "3 open tickets &lt;b&gt;" in html  # escaped, never rendered as markup
    assert 'name="system"' not in html and 'name="messages-0-content"' not in html
    assert 'name="_save"' not in html
    admin_client_.post(f"{CHANGELIST}{thread.pk}/change/", {"system": "changed"})
    assert Thread.objects.get(pk=thread.pk).system == "Be brief."
    assert admin_client_.get(f"{CHANGELIST}add/").status_code == 403


def test_deleting_a_thread_forgets_its_messages(admin_client_: Client, thread: Thread) -> None:
    response = admin_client_.post(f"{CHANGELIST}{thread.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Thread.objects.exists()
    assert not ThreadMessage.objects.exists()


def test_staff_without_permission_see_nothing(client: Client, thread: Thread) -> None:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(CHANGELIST).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_thread"))
    assert client.get(CHANGELIST).status_code == 200
    assert client.post(f"{CHANGELIST}{thread.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Thread.objects.filter(pk=thread.pk).exists()
