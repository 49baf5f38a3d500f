"""Four-level responsibility (四级包保): the named people answerable for each area."""
