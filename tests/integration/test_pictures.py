"""The markup of renditions: <picture> with srcset/sizes/width/height on every page.

Covers stylerecs/pictures.py, the ``stylerecs_picture`` tag and the templates that use
it (variant switcher, For-you cards, quiz), the cache headers of stylerecs.media and
the renditions table of the variant admin. Renditions are made by the real service.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.urls import reverse

from stylerecs.models import Rendition, StylizedVariant
from stylerecs.services.renditions import renditions_for_variants

pytestmark = pytest.mark.django_db


class Tags(HTMLParser):
    """Every <picture>, <source> and <img> of a page, attributes as dicts, in order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.items: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag in ("picture", "source", "img"):
            self.items.append((tag, dict(attrs)))

    def imgs(self) -> list[dict]:
        return [attrs for tag, attrs in self.items if tag == "img"]

    def sources(self) -> list[dict]:
        return [attrs for tag, attrs in self.items if tag == "source"]


def photo(name: str, width: int = 480) -> bytes:
    """A real photograph resized to ``width`` x 2/3 ``width`` px."""
    from PIL import Image
    from skimage import data

    from tests.conftest import jpeg_bytes

    return jpeg_bytes(Image.fromarray(getattr(data, name)()).resize((width, width * 2 // 3)))


def srcset_widths(srcset: str) -> list[int]:
    return [int(part.strip().rsplit(" ", 1)[1][:-1]) for part in srcset.split(",")]


@pytest.fixture
def shown(settings, tmp_path, make_product, make_style, make_variant):
    """Two products with photos 480 x 320 px, two approved variants each, rendered."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STYLERECS = {
        **settings.STYLERECS,
        "RENDITION_WIDTHS": [160, 320, 640],
        "RENDITION_FORMATS": ["avif", "webp", "jpeg"],
        "ISOLATE_DECODING": False,
        "RENDITION_AVIF_SPEED": 10,  # the encoder's fastest: these tests check markup
    }
    noir, sunny = make_style("noir"), make_style("sunny", source="coffee")
    products = [make_product(photo(name)) for name in ("astronaut", "chelsea")]
    variants = [make_variant(p, s) for p in products for s in (noir, sunny)]
    report = renditions_for_variants(variant_ids=[v.pk for v in variants])
    assert report.failed == 0
    return {"products": products, "variants": variants, "noir": noir}


def test_the_tag_renders_sources_best_format_first_with_srcset_sizes_and_size(shown):
    variant = shown["variants"][0]
    html = Template(
        "{% load stylerecs_images %}"
        '{% stylerecs_picture variant sizes="(max-width: 600px) 100vw, 300px" alt="A print" %}'
    ).render(Context({"variant": variant}))
    tags = Tags(html)

    assert [tag for tag, _ in tags.items] == ["picture", "source", "source", "img"]
    avif, webp = tags.sources()
    assert (avif["type"], webp["type"]) == ("image/avif", "image/webp")
    widths = [160, 320, 480]  # 640 is above the 480 px source: its own width instead
    for source in (avif, webp):
        assert srcset_widths(source["srcset"]) == widths
        assert source["sizes"] == "(max-width: 600px) 100vw, 300px"
    (img,) = tags.imgs()
    assert srcset_widths(img["srcset"]) == widths and img["srcset"].count(".jpg") == 3
    assert img["src"].endswith(".jpg") and "/stylerecs/renditions/" in img["src"]
    assert (int(img["width"]), int(img["height"])) == (variant.width, variant.height)
    assert img["loading"] == "lazy" and "fetchpriority" not in img
    assert img["alt"] == "A print"
    for url in re.findall(r"(/media/\S+) \d+w", html):
        assert Rendition.objects.filter(image=url.removeprefix("/media/")).exists()


def test_a_host_photo_gets_a_picture_too_and_priority_means_eager(shown):
    photo = shown["products"][0].primary_image.image
    html = Template(
        "{% load stylerecs_images %}"
        "{% stylerecs_picture photo width=400 lazy=False priority=True %}"
    ).render(Context({"photo": photo}))
    (img,) = Tags(html).imgs()
    assert "loading" not in img and img["fetchpriority"] == "high"
    # width caps the attribute; the height keeps the photo's 480 x 320 aspect ratio.
    assert (img["width"], img["height"]) == ("400", str(round(400 * 320 / 480)))


def test_not_rendered_yet_shows_the_stored_file_with_its_size(shown, make_variant):
    variant = make_variant(shown["products"][0], shown["noir"])
    html = Template("{% load stylerecs_images %}{% stylerecs_picture v %}").render(
        Context({"v": variant})
    )
    assert Tags(html).items == [
        (
            "img",
            {
                "src": variant.image.url,
                "alt": "",
                "class": "sr-img",
                "width": str(variant.width),
                "height": str(variant.height),
                "loading": "lazy",
                "decoding": "async",
            },
        )
    ]


def test_product_page_leads_with_an_eager_high_priority_picture(shown, client):
    product = shown["products"][0]
    tags = Tags(client.get(product.get_absolute_url()).content.decode())
    pictures = [a for a in tags.imgs() if "sr-img" in a.get("class", "")]
    # Original + 2 variant panels + 2 tab thumbnails, all from renditions.
    assert len(pictures) == 5
    assert all(".jpg" in a["srcset"] and a["sizes"] for a in pictures)
    # A shopper without a style (this client) is shown the original photo first.
    lead, first, second, *tabs = pictures
    assert lead["fetchpriority"] == "high" and "loading" not in lead
    assert first["loading"] == second["loading"] == "lazy"  # hidden until chosen
    # The switcher's size (640) is above the photo's width: the photo's width it is.
    assert lead["width"] == "480" and lead["sizes"] == "(max-width: 640px) 100vw, 640px"
    assert all(t["sizes"] == "32px" and t["width"] == "48" for t in tabs)
    assert len(tags.sources()) == 10


def test_for_you_cards_load_the_first_row_eagerly_and_the_rest_lazily(shown, client):
    tags = Tags(client.get(reverse("stylerecs:for_you")).content.decode())
    cards = tags.imgs()
    assert len(cards) == 2 and all("/stylerecs/renditions/" in c["src"] for c in cards)
    assert cards[0]["fetchpriority"] == "high"
    assert all("loading" not in c for c in cards)  # both in the first row
    assert all(c["width"] == "480" and c["height"] == "320" for c in cards)


def test_quiz_choices_are_pictures(shown, client):
    tags = Tags(client.get(reverse("stylerecs:quiz")).content.decode())
    choices = tags.imgs()
    assert len(choices) == 4 and all(c["srcset"] for c in choices)
    assert "loading" not in choices[0] and choices[0]["fetchpriority"] == "high"
    assert choices[-1]["loading"] == "lazy"  # the second round is below the fold


def test_the_host_catalogue_uses_the_tag_for_its_own_cards(shown, client):
    html = client.get(reverse("shop:catalogue")).content.decode()
    cards = Tags(html).imgs()
    photos = {p.primary_image.image.name for p in shown["products"]}
    names = [card["src"].removeprefix("/media/") for card in cards]
    rendered = {r.source for r in Rendition.objects.filter(image__in=names)}
    assert rendered == photos and all(c["srcset"] and c["width"] for c in cards)
    assert cards[0]["fetchpriority"] == "high" and "loading" not in cards[0]


def test_renditions_off_serves_the_old_single_file_markup(shown, client, settings):
    settings.STYLERECS = {**settings.STYLERECS, "RENDITIONS_ENABLED": False}
    html = client.get(reverse("stylerecs:for_you")).content.decode()
    tags = Tags(html)
    assert not tags.sources() and "srcset" not in html
    photos = {p.primary_image.image.url for p in shown["products"]}
    assert {img["src"] for img in tags.imgs()} == photos


def test_content_addressed_media_are_cached_for_a_year(shown, client):
    rendition = Rendition.objects.first()
    response = client.get(rendition.image.url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    photo = client.get(shown["products"][0].primary_image.image.url)  # products/p1.jpg
    assert photo.status_code == 200 and "immutable" not in photo.get("Cache-Control", "")


def test_variant_admin_lists_renditions_with_their_bytes(shown, client):
    admin = get_user_model().objects.create_superuser("boss", "b@example.com", "pw")
    client.force_login(admin)
    variant: StylizedVariant = shown["variants"][0]
    url = reverse("admin:stylerecs_stylizedvariant_change", args=[variant.pk])
    html = client.get(url).content.decode()
    rows = Rendition.objects.filter(source=variant.image.name)
    assert rows.count() == 9
    for row in rows:
        assert f'title="{row.file_size} bytes"' in html
    assert "All ready renditions" in html
    listing = client.get(reverse("admin:stylerecs_rendition_changelist"))
    assert listing.status_code == 200 and "webp" in listing.content.decode().lower()
