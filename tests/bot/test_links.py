"""Signed download links: a link opens its file until it expires, and an edited link never does."""

from __future__ import annotations

import pytest

from bot.links import parse, parse_page, sign, sign_page, verify, verify_page

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


PRODUCTION = "slack:T0VYKE:C0MUSIC:1700000000.000100"


def test_a_page_link_opens_its_version_until_it_expires() -> None:
    url = sign_page(PRODUCTION, 2, secret=SECRET, ttl_s=60, base_url=BASE + "/vyke", now=NOW)
    assert url.startswith("https://vyke.example/vyke/p/slack%3AT0VYKE%3AC0MUSIC%3A1700000000.000100/v2?")
    production_id, version, expires, signature = parse_page(url)
    assert (production_id, version, expires) == (PRODUCTION, 2, NOW + 60)
    assert verify_page(production_id, version, expires=expires, signature=signature,
                       secret=SECRET, now=NOW + 59)
    assert not verify_page(production_id, version, expires=expires, signature=signature,
                           secret=SECRET, now=NOW + 60)


@pytest.mark.parametrize("tamper", ["production", "version", "expires", "secret"])
def test_an_edited_page_link_is_refused(tamper: str) -> None:
    production_id, version, expires, signature = parse_page(
        sign_page(PRODUCTION, 2, secret=SECRET, ttl_s=3600, base_url=BASE, now=NOW))
    secret = SECRET
    if tamper == "production":
        production_id = PRODUCTION.replace("C0MUSIC", "C0OTHER")
    elif tamper == "version":
        version = 3  # a version the director has not shared
    elif tamper == "expires":
        expires += 86400
    else:
        secret = "another-installation"
    assert not verify_page(production_id, version, expires=expires, signature=signature,
                           secret=secret, now=NOW)


def test_a_file_signature_never_opens_a_page_nor_a_page_signature_a_file() -> None:
    _, expires, file_sig = parse(sign("p/v2", secret=SECRET, ttl_s=60, base_url=BASE,
                                              now=NOW))
    assert not verify_page("p", 2, expires=expires, signature=file_sig, secret=SECRET, now=NOW)
    _, _, expires, page_sig = parse_page(sign_page("p", 2, secret=SECRET, ttl_s=60,
                                                   base_url=BASE, now=NOW))
    assert not verify("p/v2", expires=expires, signature=page_sig, secret=SECRET, now=NOW)


def test_files_offered_on_a_page_expire_with_it() -> None:
    url = sign("a/b.zip", secret=SECRET, expires_at=int(NOW) + 123, base_url="")
    assert url.startswith("/files/a/b.zip?expires=1800000123&")
    with pytest.raises(ValueError):
        sign("a/b.zip", secret=SECRET, base_url=BASE)  # neither a lifetime nor an expiry


@pytest.mark.parametrize("url", ["https://h/p/abc?expires=1&sig=ab", "https://h/p/abc/2?expires=1&sig=ab",
                                 "https://h/p//v2?expires=1&sig=ab", "https://h/p/abc/v2?sig=ab"])
def test_urls_that_are_not_page_links_are_rejected(url: str) -> None:
    with pytest.raises(ValueError):
        parse_page(url)
