"""Security operations (安全管理): incidents, yearly tests and drills, inspections (SEC-5, SEC-7)."""
