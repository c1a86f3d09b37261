"""Fargate metering and Cost Explorer answers, as pure functions of task usage records.

``rates`` (prices and AWS's billing region codes) · ``usage`` (a task's billed seconds, its line items and
their usage types, split into time buckets) · ``periods`` (TimePeriod and Granularity to buckets) ·
``filters`` (Cost Explorer expressions and group keys over line items) · ``cost_explorer`` (the answers of
GetCostAndUsage, GetDimensionValues and GetTags). No store, no HTTP, no threads.
"""
