"""Loopback fakes of the outside services the product talks to (the Anthropic Messages API, ...)."""
