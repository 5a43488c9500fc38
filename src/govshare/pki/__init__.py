"""Certificates for department systems (证书管理, SEC-1, BZ§26)."""
