"""Storefront URLs; a host mounts them with ``path("", include("stylerecs.urls"))``."""

from django.urls import path

from . import views

app_name = "stylerecs"

urlpatterns = [
    path("for-you/", views.for_you, name="for_you"),
    path("style-quiz/", views.quiz, name="quiz"),
    path("my-style/", views.my_style, name="my_style"),
    path("my-data/", views.my_data, name="my_data"),
    path("my-data/export/", views.my_data_export, name="my_data_export"),
    path("my-data/delete/", views.my_data_delete, name="my_data_delete"),
    path("my-data/personalisation/", views.personalisation, name="personalisation"),
    path("events/", views.event, name="event"),
]
