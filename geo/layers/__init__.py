"""What the map layers and pages show, read as the caller may see it: grids with their open
issues, area outlines, cameras, key sites and teams in a box, and each map page's starting
view with the areas' sizes for choosing the level it draws."""
