"""The API's URLs; a host mounts them with ``path("api/", include("stylerecs.api.urls"))``."""

from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

from . import experiments, schema, views  # noqa: F401 (schema registers OpenAPI extensions)

app_name = "stylerecs_api"

router = DefaultRouter()
router.register("styles", views.StyleViewSet, basename="style")
router.register("products", views.ProductViewSet, basename="product")
router.register("interactions", views.InteractionViewSet, basename="interaction")
router.register("batches", views.BatchViewSet, basename="batch")
router.register("variants", views.VariantViewSet, basename="variant")
router.register("experiments", experiments.ExperimentViewSet, basename="experiment")

urlpatterns = [
    path("me/preferences/", views.PreferencesView.as_view(), name="me-preferences"),
    path("me/recommendations/", views.RecommendationsView.as_view(), name="me-recommendations"),
    path("me/data/", views.DataView.as_view(), name="me-data"),
    path("auth/token/", views.TokenView.as_view(), name="auth-token"),
    path("schema/", schema.SchemaView.as_view(), name="schema"),
    path("docs/", schema.DocsView.as_view(url_name="stylerecs_api:schema"), name="docs"),
    path("", include(router.urls)),
    # Last: any other path under the API (an id that is no id, a typo) answers DRF's
    # JSON 404 instead of the site's HTML page. Only paths ending in "/", so that
    # APPEND_SLASH still redirects "styles" to "styles/".
    re_path(r"^.*/$", views.not_found, name="not-found"),
]
