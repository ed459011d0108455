"""Bots: automated participants in conversations. They build on the customer record (crm_core) and
the channel contract; the hub feeds them turns and sends their replies through the outbox."""
