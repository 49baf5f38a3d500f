"""What is at a point of the map: its grid, community, street and district with the people and
teams responsible there, the cameras that can see it (with their view sectors) and the open
issues nearby, as the operator who clicks it may see them (`lookup.place_at`)."""
