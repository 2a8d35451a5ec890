"""Fetching from the network: every URL the service downloads goes through ``safe_fetch``."""
