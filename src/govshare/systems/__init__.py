"""Information systems register (政务信息系统目录)."""
