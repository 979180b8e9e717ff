"""Disputes (chargebacks) of any charge we made: credits taken while Stripe holds the funds,
given back when they are reinstated."""
