"""CLI sub-commands: one module each, discovered by `mdcnb.cli` (each defines `register(subparsers)`)."""
