"""Batch work on a Dask cluster (`dask.distributed`), for archives one machine cannot take in
time: the same answers as in process, the work spread over the cluster's workers."""
