from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from . import views

shop_patterns = [
    path("", views.catalogue, name="catalogue"),
    path("products/<slug:slug>/", views.product_detail, name="product"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include((shop_patterns, "shop"))),
]

if settings.SERVE_MEDIA:
    # The embedded default has no web server in front to serve uploads; production
    # serves MEDIA_URL from the storage (S3, a CDN or nginx) instead.
    urlpatterns += [
        re_path(
            rf"^{settings.MEDIA_URL.lstrip('/')}(?P<path>.*)$",
            serve,
            {"document_root": settings.MEDIA_ROOT},
        )
    ]
