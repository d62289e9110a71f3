"""Kesu's own error pages (kesu/lib/errorpages.py): 400, 403, 404, 500 and a refused CSRF check, in the
reader's language, with a way back, nothing of the error itself, and the 500 page with the database down."""

import pytest
from conftest import verified_client
from django.db import OperationalError, connection
from django.test import Client

SECRET = "hanako-private-path-0042"


def japanese(client: Client) -> Client:
    client.cookies["django_language"] = "ja"
    return client


def assert_kesu_page(response, status: int, title: str, *, back: str = ""):
    html = response.content.decode()
    assert response.status_code == status, html[:300]
    assert 'lang="ja"' in html and f"<h1>{title}</h1>" in html
    assert '<a class="button primary" href="/">デスクのトップへ戻る</a>' in html
    assert (f'<a class="button" href="{back}">前のページに戻る</a>' in html) == bool(back)
    for detail in ("Traceback", "Exception", "OperationalError", "CSRF", "csrf", SECRET, "Not Found", "Server Error"):
        assert detail not in html, detail
    assert response["Cache-Control"] == "no-store, private"
    return html


@pytest.mark.django_db
def test_404_is_kesus_own_page_in_japanese_with_a_way_back(personas):
    client = japanese(verified_client(personas["on_case"]))
    response = client.get(f"/no/{SECRET}/", HTTP_REFERER="http://testserver/cases/")
    assert_kesu_page(response, 404, "ページが見つかりません", back="http://testserver/cases/")
    # a case she may not see answers the same page; a referrer from another site is no way back
    response = client.get("/cases/999999/", HTTP_REFERER="https://elsewhere.example/x")
    assert_kesu_page(response, 404, "ページが見つかりません")


@pytest.mark.django_db
def test_403_and_a_refused_csrf_check_are_kesus_own_pages(personas):
    staff = japanese(verified_client(personas["on_case"]))
    assert_kesu_page(staff.get("/admin/login/"), 403, "許可されていません")  # the staff admin is for admins
    strict = japanese(Client(enforce_csrf_checks=True))
    strict.force_login(personas["on_case"])
    html = assert_kesu_page(
        strict.post("/accounts/login/", {"username": "hana"}), 403, "フォームの有効期限が切れていました"
    )
    assert "再読み込みしてからもう一度送信してください" in html


@pytest.mark.django_db
def test_400_for_a_host_the_desk_does_not_serve(db):
    response = japanese(Client()).get("/accounts/login/", HTTP_HOST="desk.elsewhere.example")
    assert_kesu_page(response, 400, "リクエストを読み取れませんでした")


@pytest.mark.django_db
def test_500_renders_with_the_database_down(personas):
    client = japanese(verified_client(personas["on_case"]))
    client.raise_request_exception = False
    queries = []

    def database_down(execute, sql, params, many, context):
        queries.append(sql)
        raise OperationalError("could not connect to server: Connection refused")

    with connection.execute_wrapper(database_down):
        response = client.get("/", HTTP_REFERER="http://testserver/")
    assert queries, "the request never reached the database: nothing was tested"
    html = assert_kesu_page(response, 500, "デスクで問題が発生しました", back="http://testserver/")
    assert "保存済みの内容は失われていません" in html and "Connection refused" not in html


@pytest.mark.django_db
def test_error_pages_follow_the_readers_language(personas):
    client = verified_client(personas["on_case"])
    client.cookies["django_language"] = "en"
    html = client.get("/nowhere/").content.decode()
    assert 'lang="en"' in html and "<h1>Page not found</h1>" in html and "Back to the desk" in html
