"""Where problems concentrate, how hotspots emerge, persist and move: kernel density,
DBSCAN clusters, Getis-Ord Gi* with the FDR correction, emerging hot spot patterns on a
space-time cube, displacement and repeat spots. Everything is computed in EPSG:4551 metres,
vectorised over all reports; `analysis` turns the results into map layers."""
