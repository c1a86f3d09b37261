"""Controllers' decide functions: ``decide(desired, observed, now) -> actions``, pure (no I/O; an
import-linter contract keeps them so)."""
