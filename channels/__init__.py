"""Channel adapters: verify and normalise provider webhooks, send through provider SDKs.

Channels know the normalised message contract (channels.contract) and nothing of the database.
"""
