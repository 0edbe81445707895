"""Seed the demo catalogue and style library (idempotent: run it as often as you like)."""

import secrets

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from tqdm import tqdm

from shop import demo_data
from shop.models import Category, Product, ProductImage
from stylerecs.models import Style
from stylerecs.services.profiles import profiles_refresh, profiles_schedule
from stylerecs.services.styles import style_save
from stylerecs.weights import method_available


class Command(BaseCommand):
    help = "Create the demo products (real photos) and styles; existing ones are kept."

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit", type=int, default=0, help="Only the first N products (0: all)."
        )
        parser.add_argument(
            "--admin",
            action="store_true",
            help="Create or reset a superuser 'admin' with a fresh password and print it.",
        )
        parser.add_argument(
            "--method",
            default="auto",
            help="Stylizer of new demo styles; 'auto': adain when its weights are installed, "
            "else texture (example-based, needs none).",
        )
        parser.add_argument(
            "--profiles",
            choices=["queue", "now", "skip"],
            default="queue",
            help="Embed product photos and styles for the recommendations: on a worker "
            "(queue, the default), in this process (now), or not at all (skip).",
        )

    def handle(self, *args, limit, admin, method, profiles, **options):
        if method == "auto":
            method = "adain" if method_available("adain") else "texture"
        products = demo_data.PRODUCTS[:limit] if limit else demo_data.PRODUCTS
        created_products = created_styles = 0
        with transaction.atomic():
            categories = {
                slug: Category.objects.get_or_create(slug=slug, defaults={"name": name})[0]
                for slug, name in demo_data.CATEGORIES.items()
            }
        bar = tqdm(products, desc="products", unit="product", disable=options["verbosity"] < 1)
        for spec in bar:
            with transaction.atomic():
                product, created = Product.objects.get_or_create(
                    slug=spec.slug,
                    defaults={
                        "title": spec.title,
                        "price": demo_data.price(spec),
                        "available": spec.available,
                        "category": categories[spec.category],
                        "description": f"A {spec.title.lower()} print on archival paper.",
                    },
                )
                if not product.images.exists():
                    image = ProductImage(product=product, alt=spec.title, position=0)
                    image.image.save(f"{spec.slug}.jpg", ContentFile(demo_data.product_photo(spec)))
                created_products += created
        for spec in tqdm(
            demo_data.STYLES, desc="styles", unit="style", disable=options["verbosity"] < 1
        ):
            if Style.objects.filter(slug=spec.slug).exists():
                continue
            style = Style(
                slug=spec.slug,
                name=spec.name,
                description=spec.description,
                strength=spec.strength,
                preserve_color=spec.preserve_color,
                method=method,
            )
            style.reference_image.save(
                f"{spec.slug}.jpg", ContentFile(demo_data.style_reference(spec.slug)), save=False
            )
            style_save(style=style)
            created_styles += 1
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo catalogue: {Product.objects.count()} products ({created_products} new), "
                f"{Style.objects.count()} styles ({created_styles} new, method {method})."
            )
        )
        if profiles == "now":
            embedded = profiles_refresh()
            self.stdout.write(f"Style profiles: {embedded} product photo(s) embedded.")
        elif profiles == "queue":
            profiles_schedule()  # only what changed is embedded again
            self.stdout.write("Style profiles: a refresh is queued for the worker.")
        if admin:
            self._admin()

    def _admin(self):
        user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        password = secrets.token_urlsafe(9)
        user.set_password(password)
        user.is_staff = user.is_superuser = True
        user.save()
        self.stdout.write(self.style.WARNING(f"Admin login: admin / {password}"))
