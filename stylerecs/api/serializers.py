"""Serializers: the API's shapes. They validate and present; services do the work.

Products belong to the host shop, so they are read through the product adapter (title,
URL, price, availability, photo), never by assuming the host's field names.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import selectors
from ..conf import get_adapter, get_product_model
from ..models import (
    GenerationBatch,
    Interaction,
    InteractionKind,
    Style,
    StylizedVariant,
    VariantStatus,
)

# Kinds an API client may report. Carts and purchases are facts the host shop records
# itself (server side), and quiz picks come with the quiz: a client that could post
# "purchase" could make anything look popular.
CLIENT_KINDS = (InteractionKind.VIEW, InteractionKind.LIKE, InteractionKind.DISLIKE)


def _absolute(request, url: str | None) -> str | None:
    if not url:
        return None
    return request.build_absolute_uri(url) if request is not None else url


class StyleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Style
        fields = ["id", "name", "slug", "description", "reference_image"]
        read_only_fields = fields


class VariantSerializer(serializers.ModelSerializer):
    """An approved variant, as shoppers see it."""

    style = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    style_name = serializers.CharField(source="style.name", read_only=True)

    class Meta:
        model = StylizedVariant
        fields = ["id", "style", "style_name", "image", "width", "height"]
        read_only_fields = fields


class ProductListSerializer(serializers.ListSerializer):
    """Loads the approved variants of a whole page of products in one query."""

    def to_representation(self, data):
        products = list(data.all() if hasattr(data, "all") else data)
        self.child.context["variants"] = selectors.approved_variants_for_products(
            product_ids=[p.pk for p in products]
        )
        return super().to_representation(products)


class ProductSerializer(serializers.Serializer):
    """A host product through the adapter, with its approved stylized variants."""

    id = serializers.CharField(source="pk", read_only=True)
    title = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    price = serializers.SerializerMethodField()
    available = serializers.SerializerMethodField()
    image = serializers.SerializerMethodField()
    variants = serializers.SerializerMethodField()

    class Meta:
        list_serializer_class = ProductListSerializer

    def get_title(self, product) -> str:
        return get_adapter().title(product)

    def get_url(self, product) -> str:
        return _absolute(self.context.get("request"), get_adapter().url(product))

    # A string, as DRF writes decimals (COERCE_DECIMAL_TO_STRING): no float rounding.
    @extend_schema_field(
        {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$", "nullable": True}
    )
    def get_price(self, product):
        price = get_adapter().price(product)
        return None if price is None else str(price)

    def get_available(self, product) -> bool:
        return get_adapter().is_available(product)

    @extend_schema_field(OpenApiTypes.URI)
    def get_image(self, product):
        image = get_adapter().image_file(product)
        return _absolute(self.context.get("request"), image.url if image else None)

    @extend_schema_field(VariantSerializer(many=True))
    def get_variants(self, product):
        by_product = self.context.get("variants")
        if by_product is None:  # a single product (retrieve): its own query
            by_product = selectors.approved_variants_for_products(product_ids=[product.pk])
        return VariantSerializer(
            by_product.get(product.pk, []), many=True, context=self.context
        ).data


class StrictFloatField(serializers.FloatField):
    """A JSON number: ``true``/``false`` are refused, not read as 1.0/0.0."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class PreferencesSerializer(serializers.Serializer):
    """A shopper's explicit style weights, keyed by style slug, and the privacy switch."""

    personalise = serializers.BooleanField(
        required=False, help_text="False turns recommendations and learning off."
    )
    weights = serializers.DictField(
        child=StrictFloatField(min_value=-1.0, max_value=1.0),
        required=False,
        help_text='{"<style slug>": weight from -1 (avoid) to 1 (love)}; replaces them all.',
    )

    def validate_weights(self, value: dict[str, float]) -> dict[int, float]:
        active = Style.objects.filter(is_active=True, slug__in=list(value))
        styles = dict(active.values_list("slug", "pk"))
        unknown = sorted(set(value) - set(styles))
        if unknown:
            raise serializers.ValidationError(f"Unknown or inactive styles: {', '.join(unknown)}")
        return {styles[slug]: weight for slug, weight in value.items()}


class RecommendationSerializer(serializers.Serializer):
    product = ProductSerializer(read_only=True)
    score = serializers.FloatField(read_only=True)
    rank = serializers.IntegerField(read_only=True)
    reason = serializers.CharField(read_only=True)


class ProductField(serializers.PrimaryKeyRelatedField):
    """A host product by primary key (the model is looked up when used, not imported)."""

    def get_queryset(self):
        return get_product_model()._default_manager.all()


class InteractionSerializer(serializers.ModelSerializer):
    """An event reported by a client: a view, a like or a dislike of a product."""

    product = ProductField()
    kind = serializers.ChoiceField(choices=[(k.value, k.label) for k in CLIENT_KINDS])
    # Only variants on show: any other id (a hidden style's, one not approved) is
    # refused exactly like an id that does not exist, so none can be probed for.
    variant = serializers.PrimaryKeyRelatedField(
        queryset=StylizedVariant.objects.filter(
            status=VariantStatus.APPROVED, style__is_active=True
        ),
        required=False,
        allow_null=True,
    )

    class Meta:
        model = Interaction
        fields = ["id", "product", "kind", "variant", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs):
        variant = attrs.get("variant")
        if variant is not None and (
            variant.product_id != attrs["product"].pk or not variant.is_visible_to_shoppers
        ):
            raise serializers.ValidationError({"variant": "Not a shown variant of this product."})
        return attrs


class ExportSerializer(serializers.Serializer):
    """Everything stylerecs keeps about the caller (the service decides what that is)."""

    shopper = serializers.JSONField(read_only=True)
    preferences = serializers.JSONField(read_only=True)
    interactions = serializers.JSONField(read_only=True)
    recommendations = serializers.JSONField(read_only=True)
    settings = serializers.JSONField(read_only=True)


class DeletedSerializer(serializers.Serializer):
    deleted = serializers.DictField(child=serializers.IntegerField(), read_only=True)


class StaffVariantSerializer(serializers.ModelSerializer):
    """A variant as curators see it: any status, with the failure's reason."""

    style = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    product = serializers.CharField(source="product_id", read_only=True)

    class Meta:
        model = StylizedVariant
        fields = [
            "id",
            "product",
            "style",
            "style_version",
            "status",
            "image",
            "width",
            "height",
            "error",
            "content_fidelity",
            "style_strength",
            "scores",
            "mask",
            "mask_source",
            "review_reason",
            "created_at",
            "finished_at",
            "reviewed_at",
        ]
        read_only_fields = fields


class FailureSerializer(serializers.Serializer):
    variant = serializers.IntegerField()
    product = serializers.CharField()
    style = serializers.CharField()
    error = serializers.CharField()


class BatchSerializer(serializers.ModelSerializer):
    """A generation batch and its live progress (``selectors.batch_progress``)."""

    styles = serializers.SlugRelatedField(
        slug_field="slug",
        many=True,
        allow_empty=False,
        queryset=Style.objects.filter(is_active=True),
        help_text="Slugs of active styles (at least one).",
    )
    product_ids = serializers.ListField(
        child=serializers.CharField(max_length=64),
        min_length=1,
        max_length=1000,
        help_text="Primary keys of the products to restyle.",
    )
    percent = serializers.IntegerField(read_only=True)
    finished = serializers.BooleanField(source="is_finished", read_only=True)
    failures = serializers.SerializerMethodField()

    class Meta:
        model = GenerationBatch
        fields = [
            "id",
            "source",
            "product_ids",
            "styles",
            "total",
            "ready",
            "failed",
            "percent",
            "finished",
            "failures",
            "created_at",
            "finished_at",
        ]
        read_only_fields = ["source", "total", "ready", "failed", "created_at", "finished_at"]

    @extend_schema_field(FailureSerializer(many=True))
    def get_failures(self, batch) -> list[dict]:
        return selectors.batch_progress(batch=batch)["failures"]
