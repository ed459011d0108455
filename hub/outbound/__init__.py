"""The outbound path: a durable outbox, and a dispatcher that sends it with retries and rate limits."""
