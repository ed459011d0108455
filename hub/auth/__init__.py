"""Who is calling: agent sessions and API tokens, roles and what each role may do."""
