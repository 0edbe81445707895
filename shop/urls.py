from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path

from stylerecs.media import serve

from . import views

shop_patterns = [
    path("", views.catalogue, name="catalogue"),
    path("products/<slug:slug>/", views.product_detail, name="product"),
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/<int:product_id>/", views.cart_add, name="cart_add"),
    path("cart/remove/<int:product_id>/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/thank-you/", views.order_placed, name="order_placed"),
]

urlpatterns = [
    # Pages that are not ours (the admin's) name no icon: browsers then ask for this.
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static("shop/favicon.svg"))),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/", include("stylerecs.api.urls")),
    path("", include("stylerecs.urls")),
    path("", include((shop_patterns, "shop"))),
]

if settings.SERVE_MEDIA:
    # The embedded default has no web server in front to serve uploads; production
    # serves MEDIA_URL from the storage (S3, a CDN or nginx) instead. stylerecs' serve
    # adds a year of caching for content-addressed (variant, rendition) files.
    urlpatterns += [
        re_path(
            rf"^{settings.MEDIA_URL.lstrip('/')}(?P<path>.*)$",
            serve,  # from MEDIA_ROOT, read when it serves
        )
    ]
