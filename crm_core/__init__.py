"""The customer record: customers, their identities on every channel, consent, a timeline of
everything that happened, and reversible merges. Imports nothing else of omnihub's."""
