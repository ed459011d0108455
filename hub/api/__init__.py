"""The HTTP API: thin routes that parse, authorise, call one action and return a schema."""
