"""`api.cors_allow_origins` and `api.cors_max_age_seconds`: defaults, sources, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler_config import load_config
from scheduler_errors import InvalidInput

ORIGINS = "SCHEDULER_API__CORS_ALLOW_ORIGINS"
FORM = "give each as scheme://host[:port]"


def test_no_origin_is_allowed_by_default() -> None:
    api = load_config({}).api

    assert api.cors_allow_origins == ()
    assert api.cors_max_age_seconds == 600


def test_origins_come_comma_separated_from_the_environment_and_as_a_list_from_the_file(
    tmp_path: Path,
) -> None:
    file = tmp_path / "settings.toml"
    file.write_text('[api]\ncors_allow_origins = ["https://app.example.com"]\ncors_max_age_seconds = 0\n')

    from_file = load_config({"SCHEDULER_CONFIG": str(file)}).api
    from_env = load_config({ORIGINS: "https://app.example.com, http://localhost:3000,"}).api

    assert (from_file.cors_allow_origins, from_file.cors_max_age_seconds) == (("https://app.example.com",), 0)
    assert from_env.cors_allow_origins == ("https://app.example.com", "http://localhost:3000")


@pytest.mark.parametrize(
    "origins",
    [
        "*",
        "http://localhost:3000",
        "https://app.example.com:8443",
        "http://127.0.0.1:8080",
        "http://[::1]:5173",
    ],
)
def test_an_origin_as_browsers_send_it_or_a_lone_star_is_accepted(origins: str) -> None:
    assert load_config({ORIGINS: origins}).api.cors_allow_origins == (origins,)


@pytest.mark.parametrize(
    ("origins", "told"),
    [
        ("https://app.example.com/", FORM),
        ("https://app.example.com/ui", FORM),
        ("https://app.example.com?x=1", FORM),
        ("app.example.com", FORM),
        ("ftp://app.example.com", FORM),
        ("https://*.example.com", FORM),
        ("https://app.example.com:99999", FORM),
        ("https://app.example.com:0", FORM),
        ("*,https://app.example.com", "'*' must be the only entry"),
        ("https://App.Example.com", "would match no browser, which sends it as 'https://app.example.com'"),
        (
            "https://app.example.com:443",
            "would match no browser, which sends it as 'https://app.example.com'",
        ),
        ("http://localhost:80", "would match no browser, which sends it as 'http://localhost'"),
    ],
)
def test_anything_else_is_refused_by_name_saying_what_is_expected(origins: str, told: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        load_config({ORIGINS: origins})

    assert refused.value.detail.startswith("api.cors_allow_origins: ")
    assert told in refused.value.detail


def test_a_password_in_an_origin_is_not_repeated() -> None:
    with pytest.raises(InvalidInput) as refused:
        load_config({ORIGINS: "https://user:hunter2@app.example.com"})

    assert "api.cors_allow_origins" in refused.value.detail
    assert "hunter2" not in refused.value.detail


def test_a_negative_max_age_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput) as refused:
        load_config({"SCHEDULER_API__CORS_MAX_AGE_SECONDS": "-1"})

    assert refused.value.detail == "api.cors_max_age_seconds: must not be negative"
