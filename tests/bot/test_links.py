"""Signed download links: a link opens its file until it expires, and an edited link never does."""

from __future__ import annotations

import pytest

from bot.links import parse, sign, verify

SECRET = "s3cret-for-tests"
BASE = "https://vyke.example"
NOW = 1_800_000_000.0


def _link(path: str = "productions/discord_1_2/v1/project.zip", ttl_s: float = 3600) -> str:
    return sign(path, secret=SECRET, ttl_s=ttl_s, base_url=BASE, now=NOW)


def test_a_fresh_link_verifies_and_names_its_file() -> None:
    url = _link()
    assert url.startswith("https://vyke.example/files/productions/discord_1_2/v1/project.zip?")
    path, expires, signature = parse(url)
    assert path == "productions/discord_1_2/v1/project.zip"
    assert expires == NOW + 3600
    assert len(signature) == 64  # hex SHA-256
    assert verify(path, expires=expires, signature=signature, secret=SECRET, now=NOW + 3599)


def test_a_link_stops_working_when_it_expires() -> None:
    path, expires, signature = parse(_link(ttl_s=60))
    assert verify(path, expires=expires, signature=signature, secret=SECRET, now=NOW + 59)
    assert not verify(path, expires=expires, signature=signature, secret=SECRET, now=NOW + 60)
    assert not verify(path, expires=expires, signature=signature, secret=SECRET, now=NOW + 86400)


@pytest.mark.parametrize("tamper", ["path", "expires", "signature", "secret"])
def test_an_edited_link_is_refused(tamper: str) -> None:
    path, expires, signature = parse(_link())
    secret = SECRET
    if tamper == "path":
        path = "productions/discord_1_3/v1/project.zip"  # someone else's project
    elif tamper == "expires":
        expires += 86400  # trying to keep it alive longer
    elif tamper == "signature":
        signature = ("0" if signature[0] != "0" else "1") + signature[1:]
    else:
        secret = "another-installation"
    assert not verify(path, expires=expires, signature=signature, secret=secret, now=NOW)


def test_file_names_with_spaces_survive_the_round_trip() -> None:
    url = sign("productions/p/v2/My Song (v2).mp3", secret=SECRET, ttl_s=10, base_url=BASE + "/",
               now=NOW)
    assert " " not in url and "//files" not in url
    path, expires, signature = parse(url)
    assert path == "productions/p/v2/My Song (v2).mp3"
    assert verify(path, expires=expires, signature=signature, secret=SECRET, now=NOW)


def test_a_public_url_with_its_own_path_prefix() -> None:
    url = sign("a/b.zip", secret=SECRET, ttl_s=10, base_url="https://host/vyke", now=NOW)
    assert url.startswith("https://host/vyke/files/a/b.zip?")
    assert parse(url)[0] == "a/b.zip"


@pytest.mark.parametrize("path", ["/etc/passwd", "../secrets.env", "a/../../b", "", "a//b"])
def test_links_never_name_files_outside_the_data_directory(path: str) -> None:
    with pytest.raises(ValueError):
        sign(path, secret=SECRET, ttl_s=10, base_url=BASE, now=NOW)
    assert not verify(path, expires=int(NOW) + 10, signature="0" * 64, secret=SECRET, now=NOW)


def test_no_secret_no_links() -> None:
    with pytest.raises(ValueError, match="VYKE_LINK_SECRET"):
        sign("a/b.zip", secret="", ttl_s=10, base_url=BASE)
    path, expires, signature = parse(_link())
    assert not verify(path, expires=expires, signature=signature, secret="", now=NOW)


def test_urls_that_are_not_links_are_rejected() -> None:
    with pytest.raises(ValueError):
        parse("https://vyke.example/other/a.zip?expires=1&sig=ab")
    with pytest.raises(ValueError):
        parse("https://vyke.example/files/a.zip?sig=ab")
