"""The benchmark's token cache (bench/cases.py): the login itself is the API's, tested elsewhere."""

from __future__ import annotations

import pytest

from bench import cases


@pytest.fixture
def logins(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    issued: list[str] = []

    def access_token(base_url: str, username: str) -> str:
        issued.append(f"{username}-{len(issued)}")
        return issued[-1]

    monkeypatch.setattr(cases, "access_token", access_token)
    return issued


def test_a_token_is_fetched_even_when_the_clock_is_young(
    logins: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """time.monotonic() counts from boot: on a machine up for less than the token lifetime the
    first call once sent `Bearer ` with no token."""
    clock = [10.0]
    monkeypatch.setattr(cases.time, "monotonic", lambda: clock[0])
    tokens = cases.Tokens("http://api")

    assert tokens.headers("ann") == {"Authorization": "Bearer ann-0"}
    clock[0] += cases.TOKEN_MAX_AGE_S
    assert tokens.headers("ann") == {"Authorization": "Bearer ann-0"}
    assert tokens.headers("bob") == {"Authorization": "Bearer bob-1"}
    clock[0] += 1
    assert tokens.headers("ann") == {"Authorization": "Bearer ann-2"}
    assert logins == ["ann-0", "bob-1", "ann-2"]
