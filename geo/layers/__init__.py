"""What the map layers show, read as the caller may see it: grids with their open issues,
area outlines, cameras, key sites and teams in a box, and the areas' sizes for choosing the
level a map draws."""
