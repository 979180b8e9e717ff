"""Purchases of credit packages: checkout, fulfilment, refunds, and the local test provider."""
