"""Logs: every log on the box (journal, kernel, containers, files) in one stream, clustered, with access-log metrics."""
