"""Disputes (chargebacks): credits taken while disputed, given back when won."""
