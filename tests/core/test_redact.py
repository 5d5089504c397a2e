"""Credentials never printed: `redact_url`, and the tracking-server check that prints the URI."""

from __future__ import annotations

import base64
import http.server
import os
import threading

import pytest

from doit_study.core.files import DataError
from doit_study.core.redact import redact_url
from doit_study.core.tracking import require_tracking_server
from tests.helpers import free_port


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://alice:s3cret@host:5000/mlflow", "http://***@host:5000/mlflow"),
        ("https://ghp_tokenonly@example.org/v1", "https://***@example.org/v1"),
        ("https://h/v1?api_key=k1&model=m&token=t1", "https://h/v1?api_key=***&model=m&token=***"),
        (
            "https://b.s3.amazonaws.com/o?X-Amz-Credential=c&X-Amz-Signature=s&x=1",
            "https://b.s3.amazonaws.com/o?X-Amz-Credential=***&X-Amz-Signature=***&x=1",
        ),
        (
            "https://a.blob.core.windows.net/c?sv=1&sig=abc%2F",
            "https://a.blob.core.windows.net/c?sv=1&sig=***",
        ),
        ("https://h/cb#access_token=t&state=1", "https://h/cb#access_token=***&state=1"),
        ("https://u:p@h/x?password=p&q=a%20b", "https://***@h/x?password=***&q=a%20b"),
    ],
)
def test_userinfo_and_secret_parameters_are_hidden(url, shown):
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "url", ["sqlite:///mlflow.db", "file:///tmp/mlruns", "http://127.0.0.1:5000/", "http://h/v1?model=m&n=2"]
)
def test_a_url_without_secrets_is_kept_as_written(url):
    assert redact_url(url) == url


def test_a_url_that_does_not_parse_is_hidden_whole():
    assert "s3cret" not in redact_url("http://u:s3cret@[::1/")


def test_the_tracking_check_never_prints_the_password(monkeypatch):
    uri = f"http://alice:s3cret@127.0.0.1:{free_port()}/?token=t0ken"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(DataError) as error:
        require_tracking_server(timeout=2)
    assert "does not answer" in str(error.value) and "127.0.0.1" in str(error.value)
    assert "s3cret" not in str(error.value) and "t0ken" not in str(error.value)
    assert "alice" not in str(error.value)


class _Health(http.server.BaseHTTPRequestHandler):
    """/health answers 200 only with alice's basic auth."""

    def do_GET(self):
        expected = "Basic " + base64.b64encode(b"alice:s3c ret").decode()
        ok = self.path == "/health" and self.headers.get("Authorization") == expected
        self.send_response(200 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_tracking_check_sends_the_uris_user_as_basic_auth(monkeypatch):
    """urllib would take `alice:s3c%20ret@` for part of the host; MLflow's client sends it as basic auth."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://alice:s3c%20ret@127.0.0.1:{port}")
        require_tracking_server(timeout=5)  # answers: no error
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://alice:wrong@127.0.0.1:{port}")
        with pytest.raises(DataError, match="does not answer") as error:
            require_tracking_server(timeout=5)
        assert "wrong" not in str(error.value)
    finally:
        server.shutdown()


def test_mlflow_is_told_not_to_print_a_uri_with_credentials(monkeypatch):
    from doit_study.core.tracking import tracking_uri

    monkeypatch.delenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    tracking_uri()
    assert "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT" not in os.environ  # a plain link is useful
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://alice:hunter2@127.0.0.1:5000")
    tracking_uri()
    assert os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] == "true"
