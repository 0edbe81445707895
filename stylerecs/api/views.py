"""API views: viewsets composed from mixins; every write goes through a service.

Shoppers' endpoints (``me/...``, ``interactions``) act on the caller: a signed-in user,
or an anonymous shopper identified by the anon id in their session. Staff endpoints use
the same Django permissions as the admin.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action, api_view, permission_classes, schema
from rest_framework.exceptions import NotFound, Throttled, ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.settings import api_settings

from .. import selectors
from ..conf import get_adapter, get_product_model
from ..models import GenerationBatch, Interaction, Style, StylizedVariant, VariantStatus
from ..services import preferences as preference_services
from ..services import privacy as privacy_services
from ..services.events import interaction_record
from ..services.variants import DONE_STATUSES, variants_request, variants_review
from ..shoppers import shopper_from_request
from . import serializers as s
from .openapi import ErrorSerializer
from .permissions import CanReviewVariants, IsShopper, StaffModelPermissions
from .schema import OpenAPISchema, extend_method_schema
from .throttles import (
    EventRateThrottle,
    LoginRateThrottle,
    ShopperAnonThrottle,
    ShopperUserThrottle,
)


class StyleViewSet(viewsets.ReadOnlyModelViewSet):
    """The active styles shoppers can choose between."""

    schema = OpenAPISchema()

    queryset = Style.objects.filter(is_active=True).order_by("name")
    serializer_class = s.StyleSerializer
    permission_classes = [AllowAny]
    lookup_field = "slug"


@extend_schema(
    parameters=[
        OpenApiParameter("style", str, description="Only this style's best-matching products.")
    ]
)
class ProductViewSet(viewsets.ReadOnlyModelViewSet):
    """The host's products, each with its approved stylized variants."""

    schema = OpenAPISchema()

    serializer_class = s.ProductSerializer
    permission_classes = [AllowAny]

    def get_queryset(self):
        products = get_product_model()._default_manager.all().order_by("pk")
        prefetch = get_adapter().image_queryset_prefetch()
        if prefetch:
            products = products.prefetch_related(*prefetch)
        slug = self.request.query_params.get("style")
        if slug and self.action == "list":
            style = get_object_or_404(Style, slug=slug, is_active=True)
            products = products.filter(pk__in=list(selectors.products_for_style(style=style)))
        return products


class CallerView(GenericAPIView):
    """A view of the caller's own data: its object is the caller, not a row found by id.

    DRF's ``OPTIONS`` metadata calls ``get_object()`` before describing a PUT, and the
    generic one needs a queryset these views do not have.
    """

    def get_object(self):
        return shopper_from_request(self.request, create=False)


class PreferencesView(CallerView):
    """The caller's explicit style weights and whether personalisation is on."""

    schema = OpenAPISchema()

    serializer_class = s.PreferencesSerializer
    permission_classes = [IsShopper]

    def _payload(self, shopper) -> dict:
        if shopper is None:
            return {"personalise": True, "weights": {}}
        weights = preference_services.preferences_get(shopper=shopper)
        slugs = dict(Style.objects.filter(pk__in=list(weights)).values_list("pk", "slug"))
        return {
            "personalise": preference_services.personalisation_enabled(shopper=shopper),
            "weights": {slugs[pk]: weight for pk, weight in weights.items() if pk in slugs},
        }

    def get(self, request):
        return Response(self._payload(shopper_from_request(request, create=False)))

    def put(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        shopper = shopper_from_request(request)
        data = serializer.validated_data
        if "personalise" in data:
            preference_services.personalisation_set(shopper=shopper, enabled=data["personalise"])
        if "weights" in data:
            preference_services.preferences_set(shopper=shopper, weights=data["weights"])
        return Response(self._payload(shopper))


RECOMMENDATIONS_LIMIT = 100


class RecommendationsView(ListAPIView):
    """The caller's stored recommendations with their reasons (popular ones when none)."""

    schema = OpenAPISchema()

    serializer_class = s.RecommendationSerializer
    permission_classes = [IsShopper]

    def get_queryset(self):
        # A list, not a queryset: the pagination slices it all the same.
        shopper = shopper_from_request(self.request, create=False)
        return selectors.recommendations_for(shopper=shopper, limit=RECOMMENDATIONS_LIMIT)


class InteractionViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's events: report a view, like or dislike; read back your own."""

    schema = OpenAPISchema()

    serializer_class = s.InteractionSerializer
    permission_classes = [IsShopper]

    def get_queryset(self):
        shopper = shopper_from_request(self.request, create=False)
        if shopper is None:
            return Interaction.objects.none()
        return Interaction.objects.filter(shopper.q())

    def get_throttles(self):
        if self.action == "create":
            return [EventRateThrottle(), ShopperAnonThrottle(), ShopperUserThrottle()]
        return super().get_throttles()

    def perform_create(self, serializer):
        data = serializer.validated_data
        variant = data.get("variant")
        try:
            serializer.instance = interaction_record(
                shopper=shopper_from_request(self.request),
                product_id=data["product"].pk,
                kind=data["kind"],
                variant_id=variant.pk if variant else None,
            )
        except ValueError as exc:
            raise ValidationError({"kind": str(exc)}) from exc


NOTHING_STORED = {
    "shopper": None,
    "settings": {"personalise": True, "updated_at": None},
    "preferences": [],
    "interactions": [],
    "recommendations": [],
}


class DataView(CallerView):
    """Download (GET) or delete (DELETE) everything stylerecs keeps about the caller."""

    schema = OpenAPISchema()

    permission_classes = [IsShopper]
    serializer_class = s.ExportSerializer

    def get(self, request):
        shopper = shopper_from_request(request, create=False)
        if shopper is None:  # nothing was ever stored about a caller without an identity
            return Response(NOTHING_STORED)
        return Response(privacy_services.shopper_export(shopper=shopper))

    @extend_method_schema(responses={200: s.DeletedSerializer})
    def delete(self, request):
        shopper = shopper_from_request(request, create=False)
        deleted = privacy_services.shopper_delete(shopper=shopper) if shopper else {}
        return Response({"deleted": deleted})


class BatchViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Staff: request variants of products in styles, and follow a batch's progress."""

    schema = OpenAPISchema()

    queryset = GenerationBatch.objects.prefetch_related("styles").order_by("-created_at", "-id")
    serializer_class = s.BatchSerializer
    permission_classes = [StaffModelPermissions]

    def perform_create(self, serializer):
        data = serializer.validated_data
        try:
            serializer.instance = variants_request(
                product_ids=data["product_ids"],
                style_ids=[style.pk for style in data["styles"]],
                requested_by=self.request.user,
                source="api",
            )
        except ValueError as exc:
            raise ValidationError({"styles": [str(exc)]}) from exc


REVIEW_RESPONSES = {
    200: inline_serializer(
        "ReviewResult",
        {"changed": serializers.BooleanField(), "variant": s.StaffVariantSerializer()},
    ),
    409: OpenApiResponse(ErrorSerializer, description="The variant is not finished yet."),
}


@extend_schema(
    parameters=[
        OpenApiParameter("status", str, enum=[c.value for c in VariantStatus]),
        OpenApiParameter("batch", OpenApiTypes.INT),
    ]
)
class VariantViewSet(viewsets.ReadOnlyModelViewSet):
    """Staff: stylized variants of any status; approve or reject finished ones."""

    schema = OpenAPISchema()

    serializer_class = s.StaffVariantSerializer
    permission_classes = [StaffModelPermissions]

    def get_queryset(self):
        variants = StylizedVariant.objects.select_related("style").order_by("-created_at", "-id")
        params = self.request.query_params
        if params.get("status"):
            variants = variants.filter(status=params["status"])
        if params.get("batch", "").isdigit():
            variants = variants.filter(batches__id=int(params["batch"]))
        return variants

    def get_permissions(self):
        if self.action in ("approve", "reject"):
            return [CanReviewVariants()]
        return super().get_permissions()

    def _review(self, approve: bool) -> Response:
        variant = self.get_object()
        if variant.status not in DONE_STATUSES:
            return Response(
                {"detail": f"Only finished variants can be reviewed, not {variant.status} ones."},
                status=status.HTTP_409_CONFLICT,
            )
        changed = variants_review(variant_ids=[variant.pk], approve=approve, user=self.request.user)
        variant.refresh_from_db()
        return Response({"changed": bool(changed), "variant": self.get_serializer(variant).data})

    @extend_method_schema(request=None, responses=REVIEW_RESPONSES)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Show this variant to shoppers."""
        return self._review(approve=True)

    @extend_method_schema(request=None, responses=REVIEW_RESPONSES)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Never show this variant."""
        return self._review(approve=False)


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@permission_classes([AllowAny])
@schema(None)  # not an endpoint: left out of the OpenAPI document
def not_found(request, *args, **kwargs):
    """Any path under the API that no endpoint serves: a JSON 404."""
    raise NotFound()


class TokenView(ObtainAuthToken):
    """Exchange a username and password for the user's API token.

    Throttled per address (``stylerecs_login``) so that it cannot be used to guess
    passwords at speed; a host's login lockout (django-axes) applies as well, because
    DRF authenticates with the request.
    """

    schema = OpenAPISchema()
    throttle_classes = [LoginRateThrottle]

    def get_parsers(self):
        # ObtainAuthToken names DRF's parsers; use the configured ones (depth, NUL).
        return [parser() for parser in api_settings.DEFAULT_PARSER_CLASSES]

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            # django-axes flags the request it refused a locked-out login on; tell the
            # client so (429) instead of "wrong password", which it cannot fix by retrying.
            if getattr(request, "axes_locked_out", False):
                raise Throttled(detail="Too many failed logins: try again later.") from None
            raise
