"""Delivery backends: how a rendered issue reaches subscribers."""
