"""CloudWatch Logs rules that need no storage (filter patterns: :mod:`.pattern`): pure, no I/O."""
