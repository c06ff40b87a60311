"""Which names hide their values, at any depth, and which URLs lose their password."""

from __future__ import annotations

import pytest

from scheduler_domain import MASK, is_secret_name, masked_arguments, masked_url


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASSWORD",
        "dbPassword",
        "Authorization",
        "X-Api-Key",
        "api_token",
        "private-key",
        "AWS_SECRET_ACCESS_KEY",
        "refresh.token",
        "Cookie",
        "ssh_passphrase",
        "GITHUB_CREDENTIALS",
    ],
)
def test_secret_looking_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["PATH", "cwd", "method", "Content-Type", "timeout", "partition_key", "url"])
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_secret_values_are_masked_at_any_depth_and_the_rest_is_kept() -> None:
    arguments = {
        "env": {"DB_PASSWORD": "hunter2", "PATH": "/usr/bin"},
        "headers": {"Authorization": "Bearer abc", "Accept": "application/json"},
        "targets": [{"api_key": "k1", "host": "a"}, "plain"],
        "token": {"nested": "whole value hidden"},
        "count": 3,
    }

    assert masked_arguments(arguments) == {
        "env": {"DB_PASSWORD": MASK, "PATH": "/usr/bin"},
        "headers": {"Authorization": MASK, "Accept": "application/json"},
        "targets": [{"api_key": MASK, "host": "a"}, "plain"],
        "token": MASK,
        "count": 3,
    }
    assert arguments["env"]["DB_PASSWORD"] == "hunter2"  # the task itself is untouched


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://alice:s3cret@api.example/hook?x=1", f"https://alice:{MASK}@api.example/hook?x=1"),
        ("https://:s3cret@api.example:8443/", f"https://:{MASK}@api.example:8443/"),
        ("https://alice@api.example/", "https://alice@api.example/"),
        ("https://api.example/", "https://api.example/"),
        ("echo hello", "echo hello"),
        ("http://[::1", "http://[::1"),
    ],
)
def test_only_a_urls_password_is_masked(url: str, shown: str) -> None:
    assert masked_url(url) == shown
