"""The road network: road classes and speeds, checking and noding road lines, the routable
graph, importing real networks, and ranking teams by travel time (ETA)."""
