"""The inbound path: receive (verify, persist raw, dedupe, acknowledge), then process."""
