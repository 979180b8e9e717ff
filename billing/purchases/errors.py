"""The one error type of the purchases area."""


class PurchaseError(Exception):
    """A purchase request or payment notification we cannot act on; nothing was changed."""
