import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db]


def test_x(make_product, make_style, make_variant):
    p = make_product()
    make_variant(p, make_style("noir"))
    r = Client().get(p.get_absolute_url())
    print(r["Content-Security-Policy"])
    import re

    print(re.findall(r"<style[^>]*>", r.content.decode()))
