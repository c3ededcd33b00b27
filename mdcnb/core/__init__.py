"""Core: the table contracts every layer shares (`schema`), ISO weeks (`weeks`) and the secret scrubber of messages
and library logs (`scrub`). Imports nothing else of mdcnb."""
