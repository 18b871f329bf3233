"""Post pictures from untrusted content: only https URLs to public hosts, sizes bounded."""

from __future__ import annotations

import pytest

from digest.models import Image
from digest.sources.images import display_size, image_of, safe_image_url


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example.org/a.jpg",  # not https
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "//cdn.example.org/a.jpg",
        "https://127.0.0.1/a.jpg",
        "https://10.1.2.3/a.jpg",
        "https://192.168.0.10:8443/a.jpg",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/a.jpg",
        "https://[fd00::1]/a.jpg",
        "https://[::ffff:10.0.0.1]/a.jpg",
        "https://127.1/a.jpg",  # short forms browsers read as 127.0.0.1
        "https://2130706433/a.jpg",
        "https://0x7f.0.0.1/a.jpg",
        "https://localhost/a.jpg",
        "https://printer.local/a.jpg",
        "https://user:pw@cdn.example.org/a.jpg",
        "https://cdn.example.org/a b.jpg",
        "https://cdn.example.org:99999/a.jpg",
        "https://" + "a" * 2000 + ".org/a.jpg",
        "",
    ],
)
def test_unsafe_image_urls_are_refused(url: str) -> None:
    assert safe_image_url(url) is None
    assert image_of(url, 100, 100, "alt") is None


@pytest.mark.parametrize(
    "url", ["https://cdn.example.org/a.jpg?w=600&h=400", "https://93.184.216.34/a.png"]
)
def test_public_https_images_are_kept(url: str) -> None:
    assert safe_image_url(url) == url


def test_sizes_and_alt_are_bounded() -> None:
    image = image_of("https://cdn.example.org/a.jpg", "1200", "675px", "A\x00 ship\n in  ice")
    assert image == Image("https://cdn.example.org/a.jpg", 1200, 675, "A ship in ice")
    assert image_of("https://cdn.example.org/a.jpg", 1200, None).width is None  # type: ignore[union-attr]
    assert image_of("https://cdn.example.org/a.jpg", -5, 10**9).height is None  # type: ignore[union-attr]


def test_display_size_is_never_wider_than_the_column_and_keeps_the_shape() -> None:
    assert display_size(Image("https://x.org/a.jpg", 1200, 600), 536) == (536, 268)
    assert display_size(Image("https://x.org/a.jpg", 300, 200), 536) == (300, 200)
    assert display_size(Image("https://x.org/a.jpg"), 536) == (536, 302)  # 16:9 when unknown
