"""Owning levels of issues and their escalation (小事不出楼栋、大事不出社区)."""
