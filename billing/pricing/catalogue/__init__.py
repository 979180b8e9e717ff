"""The catalogue: AI models, their match rules and name resolution, meters, staff price changes."""
