"""Analysis: pure functions from tables to tables or numbers (no I/O). `score` and `compliance` here."""
