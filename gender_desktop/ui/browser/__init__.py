"""The dataset browser: filters, the thumbnail grid, the detail pane and labeling."""
