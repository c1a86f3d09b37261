"""Cost Explorer (``ce``): GetCostAndUsage, GetDimensionValues and GetTags over the Fargate usage ledger."""
