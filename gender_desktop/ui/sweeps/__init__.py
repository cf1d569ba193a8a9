"""The sweep dialog, its results view and the parallel-coordinates plot."""
