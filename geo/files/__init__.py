"""Files for GIS clients and batch users: layers written as GeoJSON, GeoPackage, FlatGeobuf,
zipped Shapefile or GeoParquet (`layers.write_layer`), chosen by the file's extension."""
