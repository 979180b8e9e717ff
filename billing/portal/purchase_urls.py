from django.urls import path

from billing.portal import purchase_views as views

urlpatterns = [
    path("o/<slug:slug>/credits/packages/", views.packages, name="packages"),
    path("o/<slug:slug>/credits/packages/<int:package_id>/buy/", views.buy, name="buy_package"),
    path("o/<slug:slug>/purchases/", views.purchase_list, name="purchases"),
    path("o/<slug:slug>/purchases/<int:purchase_id>/success/", views.purchase_success,
         name="purchase_success"),
    path("o/<slug:slug>/purchases/<int:purchase_id>/cancel/", views.purchase_cancel,
         name="purchase_cancel"),
    path("o/<slug:slug>/purchases/<int:purchase_id>/test-checkout/", views.test_checkout,
         name="test_checkout"),
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
]
