"""Security operations' rules, by topic: incidents, yearly exercises, checks and documents."""
