"""Core: the table contracts every layer shares (`schema`). Imports nothing else of mdcnb."""
