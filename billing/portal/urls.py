"""The org portal's billing pages, all under /o/<slug>/."""

from django.urls import path

from billing.portal import packages

urlpatterns = [
    path("o/<slug:slug>/credits/packages/", packages.packages, name="packages"),
    path("o/<slug:slug>/credits/packages/<int:package_id>/buy/", packages.buy,
         name="buy_package"),
    path("o/<slug:slug>/purchases/", packages.purchase_list, name="purchases"),
    path("o/<slug:slug>/purchases/<int:purchase_id>/success/", packages.purchase_success,
         name="purchase_success"),
    path("o/<slug:slug>/purchases/<int:purchase_id>/cancel/", packages.purchase_cancel,
         name="purchase_cancel"),
    path("o/<slug:slug>/purchases/<int:purchase_id>/test-checkout/", packages.test_checkout,
         name="test_checkout"),
]
