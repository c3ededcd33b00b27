"""CloudTrail log files: where they lie (a folder, `s3://`) and how their keys read. I/O only."""
