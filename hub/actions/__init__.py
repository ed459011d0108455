"""Writes initiated by people and integrations: each action runs one transaction and publishes its
live events after the commit."""
