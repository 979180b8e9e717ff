from django.urls import path

from reporting import views as usage_views

urlpatterns = [
    path("o/<slug:slug>/usage/", usage_views.usage, name="usage"),
]
