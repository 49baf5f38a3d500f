"""Planning grid boundaries: reading planners' files and validating boundaries inside their
parent area."""
