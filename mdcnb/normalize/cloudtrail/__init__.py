"""CloudTrail records -> counted columns: the native reader, msgspec fallback, and who is MDC (`identity`)."""
