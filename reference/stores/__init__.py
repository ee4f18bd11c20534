"""Implementations of the core's ``Store`` port."""
