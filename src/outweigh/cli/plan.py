"""`outweigh plan`: filled in by the planner module."""
