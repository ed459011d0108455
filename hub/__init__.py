"""The hub: wires channels, the customer record, the inbox and bots into one service."""
