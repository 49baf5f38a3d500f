"""Departments and the whistle (吹哨、报到、会商、落实、反馈、评价)."""
