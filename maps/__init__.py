"""Folium map pages for the command centre, dispatchers and planners."""
