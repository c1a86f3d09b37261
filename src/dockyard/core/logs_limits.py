"""CloudWatch Logs' PutLogEvents limits, as the API reference states them today, shared by the server that
enforces them and the agent that batches for them. Pure constants.

Source: the PutLogEvents operation documentation in botocore's ``logs`` model (2025 onwards: one event may
be 1 MB, up from 256 KB).
"""

from __future__ import annotations

EVENT_OVERHEAD_BYTES = 26
"""What every event adds to the size of a batch besides its message's UTF-8 bytes."""

MAX_BATCH_EVENTS = 10_000
"""At most this many events in one PutLogEvents request."""

MAX_BATCH_BYTES = 1_048_576
"""At most this many bytes in one request, counting each message's UTF-8 bytes plus
:data:`EVENT_OVERHEAD_BYTES`."""

MAX_EVENT_BYTES = 1_048_576
"""One event may be no larger than 1 MB."""

MAX_EVENT_MESSAGE_BYTES = MAX_BATCH_BYTES - EVENT_OVERHEAD_BYTES
"""The longest message that can actually be sent: one event alone in a batch, with its overhead."""

MS_PER_HOUR = 3600 * 1000
MS_PER_DAY = 24 * MS_PER_HOUR

MAX_BATCH_SPAN_MS = MS_PER_DAY
"""The events of one batch may span at most 24 hours (newest minus oldest timestamp); more fails the call."""

MAX_EVENT_AGE_MS = 14 * MS_PER_DAY
"""Events older than 14 days (or than the group's retention) are rejected, the rest of the batch kept."""

MAX_EVENT_AHEAD_MS = 2 * MS_PER_HOUR
"""Events more than 2 hours in the future are rejected, the rest of the batch kept."""
