"""How stylerecs reads the demo shop's products."""

from stylerecs.adapters import ProductAdapter


class ShopProductAdapter(ProductAdapter):
    def image_file(self, product):
        first = product.primary_image
        return first.image if first and first.image else None

    def image_queryset_prefetch(self) -> list[str]:
        return ["images"]
