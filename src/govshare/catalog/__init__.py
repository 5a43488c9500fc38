"""Catalog management (目录管理系统): compile, review, publish, version, search, import/export."""
