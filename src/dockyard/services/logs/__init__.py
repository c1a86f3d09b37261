"""CloudWatch Logs (``logs``): log groups, streams, events, filter patterns and live tail over the store."""
