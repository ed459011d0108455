"""Browser-facing parts: the agent inbox and login pages, the website chat widget and its endpoints."""
