"""The API's URLs; a host mounts them with ``path("api/", include("stylerecs.api.urls"))``."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
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
    path("auth/token/", obtain_auth_token, name="auth-token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="stylerecs_api:schema"), name="docs"),
    path("", include(router.urls)),
]
