"""The unified inbox: conversations and messages on top of the customer record (crm_core)."""
