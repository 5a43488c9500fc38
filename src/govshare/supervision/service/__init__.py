"""The supervision services, by topic: findings (detection), notices (rectification and
circulation), evidence, probes."""
