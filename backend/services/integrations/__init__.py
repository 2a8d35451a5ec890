"""Connections to other services on a person's behalf: OAuth clients and encrypted tokens."""
