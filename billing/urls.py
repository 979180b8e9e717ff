from django.urls import path

from billing import views

urlpatterns = [
    path("o/<slug:slug>/", views.dashboard, name="dashboard"),
]
